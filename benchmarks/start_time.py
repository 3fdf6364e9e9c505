"""How long a ``./btb run`` takes to start working when the set-up is done and the models are staged.

    .venv/bin/python benchmarks/start_time.py [--runs 5] [--out benchmarks/results/start_time.json]

Each run starts ``./btb run`` on a one-video sample sheet in a fresh working folder (the models read from the
repository's ``resources/models``, staged and checked by an earlier ``./setup.sh``) and reads Snakemake's
output as it comes: the time to the first job Snakemake starts (``rule ...:``) is what a user waits before any
work is done (set-up check, configuration, planning). The run is then stopped. Reported: each run's seconds
and their median; also ``./setup.sh`` alone, when it finds everything done.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "eval" / "unlabeled" / "webcam_hand_occlusion.mp4"


def first_job_seconds(clip: Path) -> float:
    with tempfile.TemporaryDirectory(prefix="btb-start-", ignore_cleanup_errors=True) as tmp:
        work = Path(tmp)
        (work / "samples.tsv").write_text(f"video_id\tpath\nclip\t{clip}\n")
        (work / "config.yaml").write_text(f"models:\n  dir: {REPO / 'resources' / 'models'}\n")
        cmd = [str(REPO / "btb"), "run", "--samples", str(work / "samples.tsv"), "--configfile",
               str(work / "config.yaml"), "--directory", str(work), "--cores", "2"]
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                start_new_session=True)
        assert proc.stderr is not None
        seconds = None
        for line in proc.stderr:
            if line.startswith(("rule ", "localrule ")):
                seconds = time.perf_counter() - t0
                break
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
        time.sleep(1.0)  # let the stopped run's processes finish writing before the folder is removed
        if seconds is None:
            raise SystemExit(f"{' '.join(cmd)} started no job (exit {proc.returncode})")
        return seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--clip", type=Path, default=CLIP)
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    subprocess.run([str(REPO / "setup.sh")], check=True, capture_output=True)  # stage and stamp, if not yet
    setup = []
    for _ in range(args.runs):
        t0 = time.perf_counter()
        subprocess.run([str(REPO / "setup.sh")], check=True, capture_output=True)
        setup.append(round(time.perf_counter() - t0, 3))
    runs = [round(first_job_seconds(args.clip), 3) for _ in range(args.runs)]
    commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
    result = {"workflow_commit": commit, "command": ["start_time.py", *sys.argv[1:]],
              "setup_seconds": setup, "setup_median_s": statistics.median(setup),
              "first_job_seconds": runs, "first_job_median_s": statistics.median(runs)}
    print(json.dumps(result, indent=2))
    if args.out:
        args.out.write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
