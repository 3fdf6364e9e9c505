"""Planning cost of a large sample sheet: wall time and peak memory of ``snakemake -n`` for N videos.

    .venv/bin/python benchmarks/dry_run_scale.py --videos 1000 --chunks 1 4 --out benchmarks/results/dry_run.json
    .venv/bin/python benchmarks/dry_run_scale.py --videos 100000 --shard-size 5000 --plan-shards 2 \
        --single-run-max 10000 --out benchmarks/results/dry_run_shards.json

Each video is a hard link to one small real clip (the dry run only needs the files to exist), listed in a
sample sheet in a temporary folder; models are taken from resources/models (run ./btb run once first).
Peak memory is each planning process's own (wait4). With ``--shard-size``, the same videos are also split by
``btb shard`` and the shards planned one after another, as their printed commands would run them.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]
LINKS_PER_FILE = 50_000


def measured(cmd: list[str], cwd: Path) -> tuple[float, int, str]:
    """Run ``cmd``; its wall seconds, its own peak memory (MB, from wait4: this process, not the runs before
    it) and its standard output."""
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:  # files: no pipe to fill
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, cwd=cwd, stdout=out, stderr=err, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        seconds = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        if proc.returncode:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd)} failed:\n{err.read()[-3000:]}")
        out.seek(0)
        return seconds, round(usage.ru_maxrss / 1024), out.read()


def sample_sheet(work: Path, n: int, clip: Path) -> Path:
    """``n`` hard links to ``clip`` (the dry run only needs the files to exist), listed in a sample sheet."""
    (work / "videos").mkdir()
    rows = ["video_id\tpath"]
    source = clip
    for i in range(n):
        if i and i % LINKS_PER_FILE == 0:  # a file takes at most 65,000 hard links (ext4): link to a fresh copy
            source = work / f"source{i // LINKS_PER_FILE}{clip.suffix}"
            shutil.copyfile(clip, source)
        video = work / "videos" / f"v{i:06d}.mp4"
        os.link(source, video)
        rows.append(f"v{i:06d}\t{video}")
    (work / "samples.tsv").write_text("\n".join(rows) + "\n")
    return work / "samples.tsv"


def dry_run(sheet: Path, config: Path, work: Path) -> dict[str, float | int]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"), "--profile",
           str(REPO / "profiles" / "default"), "--directory", str(work), "--configfile", str(config),
           "--config", f"samples={sheet}", "-n", "--quiet", "rules"]
    seconds, peak_mb, stdout = measured(cmd, work)
    total = next(int(line.split()[1]) for line in stdout.splitlines() if line.startswith("total"))
    return {"jobs": total, "seconds": round(seconds, 1), "peak_mb": peak_mb}


def plan(n: int, chunks: int, clip: Path) -> dict[str, float | int]:
    """One run planning all ``n`` videos."""
    with tempfile.TemporaryDirectory(prefix="btb-dry-") as tmp:
        work = Path(tmp)
        sheet = sample_sheet(work, n, clip)
        cfg = {"models": {"dir": str(REPO / "resources" / "models")},
               "frames": {"chunks": chunks}}  # laid over config/config.yaml; the rest are defaults
        (work / "config.yaml").write_text(yaml.safe_dump(cfg))
        return {"videos": n, "chunks": chunks, **dry_run(sheet, work / "config.yaml", work)}


def plan_shards(n: int, size: int, clip: Path, limit: int | None) -> dict[str, object]:
    """``btb shard`` splits the ``n`` videos into shards of ``size``; each shard is planned as its printed
    command would run it (``limit``: only the first shards, all being the same size but the last)."""
    with tempfile.TemporaryDirectory(prefix="btb-dry-") as tmp:
        work = Path(tmp)
        sheet = sample_sheet(work, n, clip)
        seconds, peak_mb, stdout = measured([sys.executable, "-m", "btb", "shard", str(sheet), "--size", str(size),
                                             "--out", str(work / "shards")], work)
        folders = sorted((work / "shards").iterdir())
        planned = []
        for folder in folders[:limit]:
            planned.append({"shard": folder.name, **dry_run(folder / "samples.tsv", folder / "config.yaml", folder)})
            print(json.dumps(planned[-1]), flush=True)
        return {"videos": n, "shard_size": size, "shards": len(folders), "split_seconds": round(seconds, 1),
                "split_peak_mb": peak_mb, "shards_planned": planned,
                "largest_shard_peak_mb": max(p["peak_mb"] for p in planned),
                "seconds_per_shard_mean": round(sum(p["seconds"] for p in planned) / len(planned), 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--videos", type=int, nargs="+", default=[1000])
    ap.add_argument("--chunks", type=int, nargs="+", default=[1])
    ap.add_argument("--clip", type=Path, default=REPO / "resources" / "demo" / "demo.mp4")
    ap.add_argument("--shard-size", type=int, help="also: the same videos split by btb shard, each shard planned")
    ap.add_argument("--plan-shards", type=int, help="with --shard-size: plan only the first this many shards")
    ap.add_argument("--single-run-max", type=int, help="plan in one run only up to this many videos (beyond it "
                                                          "only the shards: one run's plan may not fit memory)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    if not args.clip.is_file():
        ap.error(f"--clip {args.clip} not found (the demo video is made by ./btb run; or name any small clip)")
    rows = []
    for n in args.videos:
        for c in args.chunks if args.single_run_max is None or n <= args.single_run_max else []:
            rows.append(plan(n, c, args.clip))
            print(json.dumps(rows[-1]), flush=True)
        if args.shard_size:
            rows.append(plan_shards(n, args.shard_size, args.clip, args.plan_shards))
            print(json.dumps({k: v for k, v in rows[-1].items() if k != "shards_planned"}), flush=True)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True, text=True).stdout.strip()
        args.out.write_text(json.dumps({"workflow_commit": commit, "command": ["dry_run_scale.py", *sys.argv[1:]],
                                        "runs": rows}, indent=2) + "\n")


if __name__ == "__main__":
    main()
