"""The workflow as code: lint-clean, formatted, every rule logged and benchmarked, profiles that plan."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest
from conftest import REPO


def snakemake(*args: str, cwd=REPO) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True, text=True)


def test_lint_clean():
    proc = snakemake("--lint")
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_snakefmt_clean():
    proc = subprocess.run([sys.executable, "-m", "snakefmt", "--check", "Snakefile", "workflow/rules"], cwd=REPO,
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_every_rule_has_log_benchmark_resources_conda():
    text = "".join(p.read_text() for p in sorted((REPO / "workflow" / "rules").glob("*.smk")))
    rules = re.split(r"^rule ", text, flags=re.M)[1:]
    targets = {"stage_models", "evaluate"}
    for body in rules:
        name = body.split(":", 1)[0]
        if name in targets:
            continue
        for directive in ("log:", "benchmark:", "resources:", "conda:"):
            assert directive in body, f"rule {name} lacks {directive}"


@pytest.mark.parametrize("profile", ["default", "slurm"])
def test_profiles_plan_a_run(profile, tmp_path):
    """A dry run through each profile (the SLURM one needs no cluster to plan)."""
    proc = snakemake("-n", "--profile", str(REPO / "profiles" / profile), "--snakefile", str(REPO / "Snakefile"),
                     "--directory", str(tmp_path), "--configfile", str(REPO / "config" / "config.yaml"),
                     cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "detect_retinaface" in proc.stdout and "encode_video" in proc.stdout
    assert "rule make_demo:" in proc.stdout, "with no input given, the demo video is made first"
    if profile == "slurm":
        assert "slurm_account=CHANGE_ME_account" in proc.stdout


def test_ruff_clean():
    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "."], cwd=REPO, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
