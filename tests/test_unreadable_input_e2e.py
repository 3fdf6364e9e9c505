"""An input the run may not read (chmod 000) fails alone with an error naming the file and the problem; the
other video in the same run is de-identified and verifies.

Root reads a chmod-000 file regardless (CAP_DAC_OVERRIDE), so under root (CI, containers) the workflow runs
in a user namespace as a non-root user without capabilities (``unshare -U --map-user``): it owns what root
owns, but a mode-000 file is closed to it as to any owner. Where that cannot be set up the test skips and
says why.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys

import pandas as pd
import pytest
from conftest import copy_clip, snakemake_cmd, workflow_config

from btb.audit.verify import verify_manifest

pytestmark = pytest.mark.e2e
UNPRIVILEGED = ["unshare", "-U", "--map-user=65534", "--map-group=65534"]


@pytest.fixture
def prefix(tmp_path) -> list[str]:
    """The command prefix that runs a command without the power to read a mode-000 file."""
    if os.geteuid() != 0:
        return []
    if shutil.which("unshare") is None:
        pytest.skip("running as root, where chmod 000 does not stop reads, and util-linux 'unshare' is not "
                    "installed to run the workflow without capabilities")
    probe = subprocess.run([*UNPRIVILEGED, "bash", "-c", f"{sys.executable} -c 'import btb, snakemake, cv2'"],
                           capture_output=True, text=True)
    if probe.returncode != 0:
        pytest.skip("running as root, where chmod 000 does not stop reads, and no user namespace without "
                    f"capabilities can run this Python here (unshare -U: {probe.stderr.strip()[-300:]})")
    return UNPRIVILEGED


def test_unreadable_input_fails_alone(prefix, tmp_path, face_clip, models_dir):
    work = tmp_path
    good = copy_clip(face_clip, work / "in" / "good.mp4")
    bad = copy_clip(face_clip, work / "in" / "locked clip.mp4")
    sheet = work / "samples.tsv"
    sheet.write_text(f"video_id\tpath\ngood\t{good}\nlocked\t{bad}\n")
    cmd = snakemake_cmd(work, workflow_config(models_dir, sheet))
    bad.chmod(0)
    check = subprocess.run([*prefix, "head", "-c", "1", str(bad)], capture_output=True, text=True)
    assert check.returncode != 0, "the file must be unreadable to the account that runs the workflow"
    proc = subprocess.run([*prefix, *cmd], cwd=work, capture_output=True, text=True)
    assert proc.returncode != 0
    res = work / "results"
    # the readable video is finished and verifies
    assert (res / "good" / "good.deid.mp4").is_file(), proc.stderr[-4000:]
    assert verify_manifest(res / "good" / "manifest.json")[0] == []
    # the unreadable one failed at once, with its name and the reason
    failure = json.loads((res / "locked" / "failure.json").read_text())
    assert failure["failed_rule"] == "probe_video", failure
    assert str(bad) in failure["error"] and "cannot be read: permission denied" in failure["error"], failure
    assert failure["input_sha256"] is None
    assert not list((res / "locked").glob("*.deid.*")) and not (res / "locked" / "work").exists()
    assert "locked FAILED" in proc.stderr
    summary = pd.read_csv(res / "summary.tsv", sep="\t").set_index("video_id")
    assert summary.loc["good", "status"] == "done" and summary.loc["locked", "status"] == "failed"
