"""Rerun only what changed, asserted from the dry-run job list of a finished run.

The workflow itself is copied into the test's folder, so that editing its code (a stage's script, a package
module) and its model files changes nothing outside the test.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import REPO, dry_run_jobs, run_snakemake, workflow_config

pytestmark = pytest.mark.e2e
VID = "big01"
# what follows a changed region table: blur, encode, and every check and record after them
AFTER_REGIONS = {"encode_video": 1, "verify_residual": 1, "decide_release": 1, "release": 1, "qa_report": 1,
                 "write_manifest": 1, "summarise_run": 1, "write_run_crate": 1, "all": 1}


@pytest.fixture(scope="module")
def finished(tmp_path_factory, face_clip, models_dir):
    """A finished run of a copied workflow on a > 1 MB video (so Snakemake's 1 MB checksum limit matters)."""
    root = tmp_path_factory.mktemp("reruns")
    repo = root / "repo"
    repo.mkdir()
    for part in ("Snakefile", "workflow", "src", "config", "profiles", "envs"):
        src = REPO / part
        (shutil.copytree(src, repo / part, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
         if src.is_dir() else shutil.copy2(src, repo / part))
    models = shutil.copytree(models_dir, root / "models")
    big = root / "inputs" / "big.mp4"
    big.parent.mkdir()
    # the same two seconds with light film grain, losslessly: over 1 MB
    subprocess.run(["ffmpeg", "-v", "error", "-i", str(face_clip), "-vf", "noise=alls=8:allf=t",
                    "-c:v", "libx264", "-crf", "0", "-an", str(big)], check=True)
    assert big.stat().st_size > 1_000_000
    sheet = root / "samples.tsv"
    sheet.write_text(f"video_id\tpath\n{VID}\t{big}\n")
    cfg = workflow_config(models, sheet)
    work = root / "work"
    run_snakemake(work, cfg, repo=repo)
    return work, cfg, repo, big, models


def jobs(finished, cfg=None, extra=None):
    work, base, repo, *_ = finished
    return dry_run_jobs(work, cfg or base, extra, repo=repo)


def test_nothing_to_do_after_a_run(finished):
    assert jobs(finished) == {}


def test_touched_but_unchanged_video_reruns_nothing(finished):
    big = finished[3]
    os.utime(big)  # same bytes, newer mtime
    assert jobs(finished) == {}
    # the profile's max-checksum-file-size is what makes this work: at Snakemake's default 1 MB limit a
    # touched video is taken as changed and everything reruns
    touched = jobs(finished, extra=["--max-checksum-file-size", "1MB"])
    assert touched.get("index_frames") == 1 and touched.get("detect_yunet") == 1


def test_parameter_changes_rerun_their_stage_and_what_follows(finished):
    _, cfg, *_ = finished
    blur = {**cfg, "blur": {**cfg["blur"], "detail": cfg["blur"]["detail"] - 2}}
    assert jobs(finished, blur) == AFTER_REGIONS
    encode = {**cfg, "encode": {**cfg["encode"], "crf": cfg["encode"]["crf"] + 2}}
    # one chunk: encode_video blurs as it encodes, so a blur or encode change reruns that one job
    assert jobs(finished, encode) == AFTER_REGIONS
    temporal = {**cfg, "merge": {**cfg["merge"], "temporal": {**cfg["merge"]["temporal"], "max_gap": 3}}}
    assert jobs(finished, temporal) == {"merge_regions": 1, "extract_features": 1, **AFTER_REGIONS}
    rf = {**cfg, "detect": {**cfg["detect"], "retinaface": {**cfg["detect"]["retinaface"],
                                                             "downscaled_long_side": 320}}}
    assert jobs(finished, rf) == {"detect_retinaface": 1, "merge_regions": 1,
                                  "extract_features": 1,
                                  **AFTER_REGIONS}


def test_model_change_reruns_its_detector_and_what_follows(finished):
    models = finished[4]
    onnx = models / "face_detection_yunet_2023mar.onnx"
    original = onnx.read_bytes()
    try:
        onnx.write_bytes(original + b"\0")  # a different model file (planning only: never run)
        assert jobs(finished) == {"detect_yunet": 1, "merge_regions": 1,
                                  "extract_features": 1, **AFTER_REGIONS}
    finally:
        onnx.write_bytes(original)


def rule_code(repo) -> dict[str, tuple[str, str]]:
    """Every scripted rule of the workflow copy: (its script, its ``code`` parameter), read from the workflow."""
    import tempfile

    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

    with tempfile.TemporaryDirectory() as work, SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        wf = api.workflow(resource_settings=ResourceSettings(cores=1), config_settings=ConfigSettings(),
                          storage_settings=StorageSettings(), snakefile=repo / "Snakefile", workdir=Path(work))
        rules_dir = repo / "workflow" / "rules"
        return {r.name: (str((rules_dir / r.script).resolve()), r.params.get("code"))
                for r in wf._workflow.rules if r.script}


RUN_RULES = {"probe_video", "index_frames", "detect_yunet", "detect_retinaface",
             "merge_regions", "encode_video", "verify_residual", "release", "qa_report", "write_manifest",
             "summarise_run", "write_run_crate"}


@pytest.mark.parametrize("module, expected", [
    # temporal coverage: the merge, then everything that follows it
    ("regions/temporal.py", {"merge_regions"}),
    # the flag logic: verification; release and the manifest follow (their input, the verdict, changes)
    ("release/residual.py", {"verify_residual"}),
    ("video/encode.py", {"encode_video"}),
    ("regions/blur.py", {"encode_video", "verify_residual"}),
    ("audit/summary.py", {"summarise_run", "write_manifest", "write_run_crate"}),  # one module: stages/audit.py
    ("cli.py", set()),  # no stage runs the command line
])
def test_code_changes_rerun_exactly_the_stages_that_reach_them(finished, module, expected):
    """Editing a package module changes the code digest of exactly the rules whose scripts reach it through
    imports (btb.pipeline.codegraph; evaluation rules included), those jobs and what follows them rerun, and a
    revert is no change."""
    from btb.pipeline.codegraph import CodeGraph

    repo = finished[2]
    path = repo / "src" / "btb" / module
    before = rule_code(repo)
    graph = CodeGraph(repo / "src")
    reach = {rule for rule, (script, _) in before.items() if path in graph.reachable(script)}
    original = path.read_text()
    path.write_text(original + "\n# edited\n")
    try:
        after = rule_code(repo)
        changed = {rule for rule in before if before[rule][1] != after[rule][1]}
        assert changed == reach, "the code digest follows the import graph"
        assert changed & RUN_RULES == expected, "the import graph changed: update this table"
        rerun = set(jobs(finished))
        assert expected <= rerun and not ({"probe_video", "index_frames"} - expected) & rerun
        if module == "release/residual.py":
            assert {"verify_residual", "release", "write_manifest"} <= rerun
            assert not {"detect_yunet", "merge_regions", "encode_video"} & rerun
        if not expected:
            assert rerun == set()
    finally:
        path.write_text(original)
    assert jobs(finished) == {}


def test_a_stage_script_edit_reruns_that_stage(finished):
    # a stage's own (thin) script: Snakemake's code trigger (its mtime: this one stays changed)
    repo = finished[2]
    script = repo / "workflow" / "scripts" / "merge_regions.py"
    script.write_text(script.read_text() + "\n# edited\n")
    assert jobs(finished) == {"merge_regions": 1, "extract_features": 1, **AFTER_REGIONS}
