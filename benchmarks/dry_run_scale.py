"""Planning cost of a large sample sheet: wall time and peak memory of ``snakemake -n`` for N videos.

    .venv/bin/python benchmarks/dry_run_scale.py --videos 1000 --chunks 1 4 --out benchmarks/results/dry_run.json

Each video is a hard link to one small real clip (the dry run only needs the files to exist), listed in a
sample sheet in a temporary folder; models are taken from resources/models (run ./btb run once first).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]


def plan(n: int, chunks: int, clip: Path) -> dict[str, float | int]:
    with tempfile.TemporaryDirectory(prefix="btb-dry-") as tmp:
        work = Path(tmp)
        (work / "videos").mkdir()
        rows = ["video_id\tpath"]
        for i in range(n):
            video = work / "videos" / f"v{i:05d}.mp4"
            os.link(clip, video)
            rows.append(f"v{i:05d}\t{video}")
        (work / "samples.tsv").write_text("\n".join(rows) + "\n")
        cfg = {"samples": str(work / "samples.tsv"), "models": {"dir": str(REPO / "resources" / "models")},
               "frames": {"chunks": chunks}}  # laid over config/config.yaml; the rest are defaults
        (work / "config.yaml").write_text(yaml.safe_dump(cfg))
        cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--profile",
               str(REPO / "profiles" / "default"), "--directory", str(work), "--configfile",
               str(work / "config.yaml"), "-n", "--quiet", "rules"]
        before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        t0 = time.perf_counter()
        proc = subprocess.run(cmd, cwd=work, capture_output=True, text=True, check=True)
        seconds = time.perf_counter() - t0
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
        total = next(int(line.split()[1]) for line in proc.stdout.splitlines() if line.startswith("total"))
        return {"videos": n, "chunks": chunks, "jobs": total, "seconds": round(seconds, 1),
                "peak_mb": round(max(peak_kb, before) / 1024), "peak_is_max_of_runs_so_far": before > peak_kb}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, nargs="+", default=[1000])
    ap.add_argument("--chunks", type=int, nargs="+", default=[1])
    ap.add_argument("--clip", type=Path, default=REPO / "resources" / "demo" / "demo.mp4")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if not args.clip.is_file():
        ap.error(f"--clip {args.clip} not found (the demo video is made by ./btb run; or name any small clip)")
    rows = []
    for n in args.videos:
        for c in args.chunks:
            rows.append(plan(n, c, args.clip))
            print(json.dumps(rows[-1]))
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
