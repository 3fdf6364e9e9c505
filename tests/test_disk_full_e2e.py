"""A disk that fills up while blurred lossless chunks are written (PyAV, in Python; chunked runs) or while
the output is encoded (ffmpeg, fed blurred frames through a pipe): the run fails with an error naming the
file being written and the problem, exits non-zero, and leaves nothing that looks finished (no output, no
manifest, no temporary file) and no face-bearing intermediate.

``results/`` is a small tmpfs in a private mount namespace (``unshare -rm``: a user namespace, so no root is
needed where unprivileged user namespaces are allowed); ``fill_fs.py`` fills it when the stage before the one
under test has finished, and reports what was left before the namespace goes away.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import copy_clip, snakemake_cmd, workflow_config

pytestmark = pytest.mark.e2e

HERE = Path(__file__).resolve().parent
MOUNT_SCRIPT = 'mount -t tmpfs -o size=64m,mode=0755 btb-full "$0" && exec "$@"'


@pytest.fixture(scope="module")
def namespace_mount(tmp_path_factory) -> list[str]:
    """The command prefix that runs a command with a fresh tmpfs on its first argument, or a precise skip."""
    if shutil.which("unshare") is None:
        pytest.skip("util-linux 'unshare' is not installed: no private mount namespace for a small filesystem")
    probe = tmp_path_factory.mktemp("probe")
    proc = subprocess.run(["unshare", "-rm", "sh", "-c", MOUNT_SCRIPT, str(probe), "touch", str(probe / "x")],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        pytest.skip("cannot mount a tmpfs in a user + mount namespace here (unshare -rm: "
                    f"{proc.stderr.strip() or proc.returncode}); kernel.unprivileged_userns_clone or a container "
                    "seccomp policy forbids it")
    assert not (probe / "x").exists(), "the tmpfs was private to the namespace"
    return ["unshare", "-rm", "sh", "-c", MOUNT_SCRIPT]


def run_until_full(prefix: list[str], work: Path, cfg: dict, trigger: str, leave: int) -> dict:
    results = work / "results"
    results.mkdir(parents=True)
    report = work / "report.json"
    cmd = [*prefix, str(results), sys.executable, str(HERE / "fill_fs.py"), str(report), str(results), trigger,
           str(leave), "--", *snakemake_cmd(work, cfg)]
    subprocess.run(cmd, check=True, timeout=600)
    return json.loads(report.read_text())


@pytest.mark.parametrize(("stage", "chunks", "trigger", "leave", "rule", "writing"), [
    # two chunks: once the blur regions exist, the blurred lossless chunks (written by PyAV, in Python) come next;
    # room is left for the jobs' logs and the run summary, not for one lossless 640x360 frame (about 300 KB)
    ("blurred", 2, "k1/regions.parquet", 160 * 1024, "blur_frames", "results/k1/work/"),
    # one chunk: once the blur regions exist, the encoder (fed blurred frames through a pipe) writes the output
    ("output", 1, "k1/regions.parquet", 32 * 1024, "encode_video", "results/k1/k1.deid.mp4"),
])
def test_disk_full(namespace_mount, tmp_path, face_clip, models_dir, stage, chunks, trigger, leave, rule, writing):
    clip = copy_clip(face_clip, tmp_path / "in" / "clip.mp4")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nk1\t{clip}\n")
    cfg = workflow_config(models_dir, sheet, frames__chunks=chunks)
    rep = run_until_full(namespace_mount, tmp_path, cfg, trigger, leave)
    assert rep["triggered"], f"the filesystem was never filled: {rep['stderr'][-3000:]}"
    assert rep["rc"] != 0, "a run that could not write its output must fail"
    files = {f["path"]: f for f in rep["files"]}
    failure = json.loads(files["k1/failure.json"]["text"])
    assert failure["failed_rule"] == rule, failure
    assert f"no space left on device while writing {writing}" in failure["error"], failure["error"]
    assert "k1 FAILED" in rep["stderr"], rep["stderr"][-4000:]
    # nothing that looks finished, no partial or temporary file, no face-bearing intermediate
    for name in ("k1/k1.deid.mp4", "k1/output_check.json", "k1/manifest.json", "k1/release.json", "k1/publication.json",
                 "k1/audit/encode_video.json"):
        assert name not in files, name
    assert not [p for p in files if p.endswith(".part") or "/." in f"/{p}"], sorted(files)
    assert not [p for p in files if p.startswith("k1/work")], sorted(files)
    summary = json.loads(files["summary.json"]["text"])
    assert [(v["video_id"], v["status"]) for v in summary["videos"]] == [("k1", "failed")]
