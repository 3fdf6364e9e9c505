"""A run killed with SIGKILL mid-detection or mid-encoding leaves nothing that looks finished; after
`snakemake --unlock` the next run completes, its manifest verifies, and nothing partial (the killed encoder's
hidden file) remains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import REPO, copy_clip, run_snakemake, workflow_config

from btb.audit.verify import verify_manifest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("kill_when", ["detecting", "encoding"])
def test_sigkill_then_rerun(tmp_path, face_clip, models_dir, kill_when):
    clip = copy_clip(face_clip, tmp_path / "clip.mp4")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nk1\t{clip}\n")
    cfg = workflow_config(models_dir, sheet)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    res = tmp_path / "results" / "k1"
    logs = tmp_path / "results" / "logs"
    markers = {
        # YuNet has started (its job has opened its log) and not finished
        "detecting": [res / "frames.tsv", logs / "detect_yunet" / "k1.log"],
        # the encoder has started writing (blurred frames stream into it; its partial file has a hidden name)
        "encoding": [logs / "encode_video" / "k1.log", res / ".k1.deid.mp4.part"],
    }[kill_when]
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--profile",
           str(REPO / "profiles" / "default"), "--directory", str(tmp_path), "--configfile",
           str(tmp_path / "config.yaml"), "--cores", "1"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            start_new_session=True)
    deadline = time.time() + 300
    while not all(m.exists() for m in markers) and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)  # the whole process group: snakemake and its running job
    proc.wait()
    if kill_when == "detecting":
        assert not (res / "detections" / "yunet.parquet").exists(), "killed while detection was running"
    assert not (res / "k1.deid.mp4").exists() and not (res / "manifest.json").exists()
    assert not list(res.glob("k1.deid.mp4*")), "no partial output under the final name"
    run_snakemake(tmp_path, cfg, ["--unlock"])
    run_snakemake(tmp_path, cfg)
    assert verify_manifest(res / "manifest.json")[0] == []
    assert not (res / "work").exists(), "face-bearing intermediates removed after the completed rerun"
    assert not list(res.glob(".*.part")), "the killed encoder's partial file is gone after the rerun"
