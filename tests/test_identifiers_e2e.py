"""An input folder whose file names identify participants: under opaque ids (the default) no name reaches an
output name, a log, the summary, the run crate or any audit record; the content hashes are still recorded."""

from __future__ import annotations

import json
import shutil
import stat

import pytest
from conftest import run_snakemake, workflow_config

from btb.audit.verify import verify_manifest

pytestmark = pytest.mark.e2e
NAME = "PATIENT_JaneDoe_MRN_4471"


@pytest.fixture(scope="module")
def folder_run(tmp_path_factory, face_clip, models_dir):
    from PIL import Image
    from skimage import data

    work = tmp_path_factory.mktemp("named")
    clips = work / "clips"
    clips.mkdir()
    shutil.copyfile(face_clip, clips / f"{NAME}_visit1.mp4")
    Image.fromarray(data.astronaut()).save(clips / f"{NAME}_photo.jpg", quality=90)
    (clips / f"{NAME}_broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42 not really a video")
    cfg = workflow_config(models_dir, "", input_dir=str(clips), input_map=str(work / "private" / "ids.tsv"))
    proc = run_snakemake(work, cfg, check=False)
    return work, proc


def test_no_file_name_in_any_record(folder_run):
    work, proc = folder_run
    assert proc.returncode != 0, "the broken file fails its video"
    summary = json.loads((work / "results" / "summary.json").read_text())
    statuses = sorted(v["status"] for v in summary["videos"])
    assert statuses.count("failed") == 1 and len(statuses) == 3, summary
    checked = 0
    for f in (work / "results").rglob("*"):
        if f.is_file():
            checked += 1
            assert NAME.encode() not in f.read_bytes(), f"{f.relative_to(work)} names the input file"
    assert checked > 30
    failed = next(v for v in summary["videos"] if v["status"] == "failed")
    assert failed["video_id"] in json.dumps(failed), "the failure is reported under its id"
    # the map the user asked for is the one place that names the files, readable by its owner only
    id_map = work / "private" / "ids.tsv"
    assert NAME in id_map.read_text() and stat.S_IMODE(id_map.stat().st_mode) == 0o600


def test_withheld_inputs_are_still_hashed(folder_run):
    work, _ = folder_run
    manifests = sorted((work / "results").glob("v*/manifest.json"))
    assert len(manifests) == 2
    for path in manifests:
        m = json.loads(path.read_text())
        (entry,) = [f for f in m["files"] if f["role"] == "input"]
        assert entry["path"] == f"input:{m['video_id']}" and entry["path_withheld"] is True
        assert len(entry["sha256"]) == 64 and entry["bytes"] > 0
        assert m["input"]["path"] == entry["path"] and m["input"]["probe"]["path"] == entry["path"]
        problems, checked = verify_manifest(path)
        assert not problems and checked > 3
