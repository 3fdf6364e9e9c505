"""A run killed with SIGKILL mid-extraction, mid-detection or mid-encoding leaves nothing that looks finished;
after `snakemake --unlock` the next run completes, its manifest verifies, and no face-bearing intermediate
(the frame store the killed run left) remains."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import pytest
import yaml
from conftest import REPO, copy_clip, run_snakemake, workflow_config

from btb.manifest import verify_manifest

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("kill_when", ["extracting", "detecting", "encoding"])
def test_sigkill_then_rerun(tmp_path, face_clip, models_dir, kill_when):
    clip = copy_clip(face_clip, tmp_path / "clip.mp4")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nk1\t{clip}\n")
    cfg = workflow_config(models_dir, sheet)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    res = tmp_path / "results" / "k1"
    markers = {
        "extracting": [res / "work" / "frames"],
        # the frame store is complete and YuNet has started on it (its job has opened its log)
        "detecting": [res / "audit" / "extract_frames.json", tmp_path / "results/logs/detect_yunet/k1.log"],
        "encoding": [res / "work" / "blurred.nut"],
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
        assert list((res / "work" / "frames").glob("chunk_*.nut")), "the killed run left its frame store"
    assert not (res / "k1.deid.mp4").exists() and not (res / "manifest.json").exists()
    assert not list(res.glob("*.deid.mp4*")), "no partial output under the final name"
    run_snakemake(tmp_path, cfg, ["--unlock"])
    run_snakemake(tmp_path, cfg)
    assert verify_manifest(res / "manifest.json")[0] == []
    assert not (res / "work").exists(), "face-bearing intermediates removed after the completed rerun"
