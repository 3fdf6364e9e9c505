"""Submission through cluster profiles, without a cluster. No SLURM (nor any scheduler) exists on the
development machine or in CI, so the schedulers' commands are small fakes (tests/fake_cluster/): that is the
only mocked part; Snakemake, its executor plugins and the workflow are real."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, copy_clip, run_snakemake, workflow_config

FAKES = REPO / "tests" / "fake_cluster"


def fake_slurm_submissions(workdir: Path, seconds: int, jobs: int) -> list[str]:
    """Run the workflow (config.yaml in ``workdir``) through profiles/slurm with fake SLURM tools on PATH for
    ``seconds``; return the sbatch command lines it submitted. The fake queue reports every job failed, so
    snakemake waits on retries until the timeout ends it."""
    bindir = workdir / "bin"
    bindir.mkdir()
    for tool in ("sbatch", "sacct", "squeue", "scontrol", "sacctmgr"):
        shutil.copy(FAKES / tool, bindir / tool)
    log = workdir / "sbatch.log"
    env = {**os.environ, "PATH": f"{bindir}:{os.environ['PATH']}", "FAKE_SLURM_LOG": str(log)}
    cmd = ["timeout", "-k", "5", str(seconds), sys.executable, "-m", "snakemake", "--snakefile",
           str(REPO / "Snakefile"), "--profile", str(REPO / "profiles" / "slurm"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--jobs", str(jobs)]
    subprocess.run(cmd, cwd=workdir, env=env, capture_output=True, text=True)
    return log.read_text().splitlines()


def test_slurm_profile_submits_with_account_partition_and_resources(tmp_path, mirror):
    """The SLURM executor's exact sbatch command lines, captured by a fake sbatch on PATH."""
    cfg = workflow_config(tmp_path / "models", "")
    cfg["models"]["mirror"] = str(mirror)
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(cfg))
    lines = fake_slurm_submissions(tmp_path, 25, 4)
    by_rule = {line.split("--comment rule_")[1].split()[0]: line for line in lines}
    assert {"stage_yunet", "stage_retinaface", "make_demo"} <= set(by_rule)
    for line in by_rule.values():
        assert "-A CHANGE_ME_account" in line and "-p CHANGE_ME_partition" in line
    assert "-t 20 --mem 4000" in by_rule["stage_retinaface"], "per-rule resources of the profile"
    assert "-t 10 --mem 500" in by_rule["stage_yunet"], "the rule's own resources"


@pytest.mark.e2e
def test_full_run_through_a_cluster_profile(tmp_path, face_clip, models_dir):
    """Every job is submitted through cluster-generic's submit and status commands, and the run completes."""
    jobs = tmp_path / "jobs"
    jobs.mkdir()
    profile = tmp_path / "profile"
    profile.mkdir()
    (profile / "config.yaml").write_text(yaml.safe_dump({
        "executor": "cluster-generic",
        "cluster-generic-submit-cmd": str(FAKES / "submit.sh"),
        "cluster-generic-status-cmd": str(FAKES / "status.sh"),
        # the fake cluster runs each job at once: poll it every second, not every 10 s (Snakemake's default)
        "jobs": 4, "latency-wait": 5, "max-status-checks-per-second": 5, "seconds-between-status-checks": 1,
        "max-checksum-file-size": "64GB", "default-resources": ["mem_mb=1000", "runtime=30"],
    }))
    clip = copy_clip(face_clip, tmp_path / "clip.mp4")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nc1\t{clip}\n")
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(workflow_config(models_dir, sheet)))
    env = {**os.environ, "FAKE_CLUSTER_DIR": str(jobs)}
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                           "--profile", str(profile), "--directory", str(tmp_path),
                           "--configfile", str(tmp_path / "config.yaml")],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stderr[-4000:]
    submitted = list(jobs.glob("*.status"))
    assert len(submitted) >= 10, "every job went through the submit command"
    assert all(Path(p).read_text().strip() == "0" for p in submitted)
    assert (tmp_path / "results" / "c1" / "manifest.json").is_file()


def test_slurm_gpu_request_for_onnxruntime_detectors_only(tmp_path, face_clip, models_dir):
    """detect.device cuda: RetinaFace and head-locator jobs (onnxruntime) ask SLURM for a GPU, YuNet jobs do not
    (OpenCV runs on the CPU); one job per chunk. Frame indexing runs locally first, so that the first jobs the
    (fake) cluster receives are the detectors."""
    clip = copy_clip(face_clip, tmp_path / "clip.mp4")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"video_id\tpath\ng1\t{clip}\n")
    cfg = workflow_config(models_dir, sheet, detect__device="cuda", frames__chunks=2)
    run_snakemake(tmp_path, cfg, ["--", "results/g1/frames.tsv"])
    lines = fake_slurm_submissions(tmp_path, 25, 8)
    rules = [line.split("--comment rule_")[1].split("_wildcards")[0] for line in lines]
    assert rules.count("detect_retinaface") >= 2 and rules.count("detect_yunet") >= 2, "one job per chunk"
    assert rules.count("detect_pose") >= 2
    for rule, line in zip(rules, lines, strict=True):
        if rule in ("detect_retinaface", "detect_pose"):
            assert " --gpus=1 " in line, line
        else:
            assert "--gpus" not in line and "--gres" not in line, line
