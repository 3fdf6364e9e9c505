"""The fixed cost per video: many one-second clips in one workflow run.

    .venv/bin/python benchmarks/per_video_cost.py --models MODELS_DIR [--clips 100] [--commit REV] \
        [--out benchmarks/results/per_video_cost.json]

Cuts ``--clips`` one-second clips from ``--source`` (made once in ``$BTB_BENCH_CACHE``, never in the
repository), then, in fresh working folders: the workflow on one of them, and on all of them in one run
(``--cores``, jobs overlapping as in a normal run). Reported: wall seconds per clip in the large run, the
marginal seconds per added clip ((all - one) / (n - 1)), the jobs per video, where the job seconds went,
per rule (Snakemake's ``benchmark:`` tables), and the CPU seconds of the Snakemake process itself (its
scheduling: ``snakemake_cpu_s``). The work on the frames themselves is measured against a plain
transcode of all the clips, one after another.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from deface_tool import cache_dir  # noqa: E402
from stage_fps import (  # noqa: E402
    REPO,
    models_digest,
    overlay,
    read_benchmark,
    snakemake_cmd,
    timed,
    transcode_cmd,
    workflow_env,
    workflow_tree,
)

SOURCE = REPO.parent / "shared" / "eval" / "unlabeled" / "short_hamilton_clip.mp4"


def one_second_clips(source: Path, n: int, cache: Path) -> list[Path]:
    """``n`` one-second clips of ``source`` (each starting a bit later, wrapping around), cut once."""
    folder = cache / f"one_second_{source.stem}"
    folder.mkdir(parents=True, exist_ok=True)
    length = float(subprocess.run(["ffprobe", "-v", "error", "-show_entries", "format=duration", "-of", "csv=p=0",
                                   str(source)], capture_output=True, text=True, check=True).stdout.strip())
    clips = []
    for k in range(n):
        out = folder / f"s{k:04d}.mp4"
        if not out.exists():
            start = (k * 0.37) % max(length - 1.0, 0.01)
            tmp = out.with_suffix(".part.mp4")
            subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-ss", f"{start:.2f}",
                            "-i", str(source), "-t", "1", "-an", "-c:v", "libx264", "-crf", "18", "-pix_fmt",
                            "yuv420p", str(tmp)], check=True)
            tmp.rename(out)
        clips.append(out)
    return clips


def run(clips: list[Path], wf: Path, models: Path, cores: int, label: str) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix=f"btb_pervideo_{label}_"))
    try:
        sheet = work / "samples.tsv"
        sheet.write_text("video_id\tpath\n" + "".join(f"{c.stem}\t{c}\n" for c in clips), encoding="utf-8")
        cfg = yaml.safe_load((wf / "config" / "config.yaml").read_text(encoding="utf-8")) or {}
        overlay(cfg, {"samples": str(sheet), "models": {"dir": str(models.resolve()), "mirror": ""}})
        (work / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")
        cmd = snakemake_cmd(work, cores, False, wf)
        print(f"[{label}: {len(clips)} clips] {' '.join(cmd[:12])} ...", file=sys.stderr, flush=True)
        own: dict[str, float] = {}
        wall, foreign = timed(cmd, work / "snakemake.log", workflow_env(wf), own)
        per_rule: dict[str, float] = defaultdict(float)
        jobs: dict[str, int] = defaultdict(int)
        for tsv in (work / "results" / "benchmarks").rglob("*.tsv"):
            rule = tsv.parent.name if tsv.parent.name != "benchmarks" else tsv.stem
            per_rule[rule] += read_benchmark(tsv)["s"]
            jobs[rule] += 1
        released = len(list((work / "results" / "release").glob("*"))) if (work / "results" / "release").exists() else 0
        return {"clips": len(clips), "wall_s": round(wall, 2), "foreign_cpu_s": foreign,
                "snakemake_cpu_s": round(own["cpu_s"], 1) if "cpu_s" in own else None, "jobs": dict(jobs),
                "job_seconds_by_rule": {k: round(v, 2) for k, v in sorted(per_rule.items())},
                "outputs_in_release": released}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", type=Path, required=True, help="folder with the staged models (not restaged)")
    ap.add_argument("--clips", type=int, default=100)
    ap.add_argument("--source", type=Path, default=SOURCE)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--commit", help="measure this commit (a git archive snapshot) instead of the checkout")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    clips = one_second_clips(args.source, args.clips, cache_dir())
    before = models_digest(args.models)
    with workflow_tree(args.commit) as (wf, commit, dirty):
        one = run(clips[:1], wf, args.models, args.cores, "one")
        many = run(clips, wf, args.models, args.cores, "many")
    if models_digest(args.models) != before:
        raise SystemExit("the models folder changed during the benchmark")
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        for c in clips:
            subprocess.run(transcode_cmd(c, Path(tmp) / "t.mp4", 2), check=True)
    transcode = time.perf_counter() - t0
    n = len(clips)
    per_video_jobs = {k: v / n for k, v in many["jobs"].items() if v >= n}
    doc = {"workflow_commit": commit, "working_tree_changes": dirty, "cores": args.cores, "source": args.source.name,
           "one": one, "many": many, "wall_per_clip_s": round(many["wall_s"] / n, 2),
           "marginal_per_clip_s": round((many["wall_s"] - one["wall_s"]) / max(n - 1, 1), 2),
           "transcode_per_clip_s": round(transcode / n, 3), "jobs_per_video": round(sum(per_video_jobs.values()), 1)}
    print(f"{n} one-second clips: {many['wall_s']:.1f} s in one run, {doc['wall_per_clip_s']:.2f} s a clip "
          f"(one clip alone {one['wall_s']:.1f} s; marginal {doc['marginal_per_clip_s']:.2f} s a clip; "
          f"Snakemake's own process {many['snakemake_cpu_s']} CPU s); "
          f"{doc['jobs_per_video']} jobs a video; plain transcode {doc['transcode_per_clip_s']:.3f} s a clip")
    top = sorted(many["job_seconds_by_rule"].items(), key=lambda kv: -kv[1])
    for rule, s in top:
        print(f"  {rule:<22} {s / n:6.2f} s a clip ({many['jobs'].get(rule, 0)} jobs)")
    if args.out:
        args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
