"""cProfile of the per-frame stages: detect_yunet, detect_retinaface (all frames), encode_video (blurring while
encoding: the frames stream into ffmpeg's x264, whose time is in another process and not in the profile),
verify_residual.

The workflow first runs once on the clip (as ``stage_fps.py`` runs it, merge mode union, one chunk, with
``frames.keep_intermediates: true``); then each stage is called again on the whole video (chunk ``1of1``), each in
a fresh Python process as a workflow job is, through the same ``btb.stages`` function and arguments as its
workflow script (``workflow/scripts/*.py``), reading the workflow's files and writing to a scratch folder,
under ``cProfile``. Writes the top entries by cumulative time (and by own time) of each stage as Markdown:

    .venv/bin/python benchmarks/profile_stages.py --clip ../shared/eval/unlabeled/short_hamilton_clip.mp4 \\
        --out benchmarks/results/profile.md

The ``.prof`` files are kept in the cache folder (``$BTB_BENCH_CACHE``, else ``~/.cache/btb-benchmarks``) for
``python -m pstats`` or snakeviz. cProfile slows Python-level code (per-frame pandas, per-region loops) more
than native calls (ONNX Runtime, OpenCV, ffmpeg), so shares of Python-heavy entries are upper bounds.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import yaml
from deface_tool import cache_dir
from stage_fps import REPO, git, snakemake_cmd, timed, write_workdir

STAGES = ("detect_yunet", "detect_retinaface", "encode_video", "verify_residual")


def stage_call(stage: str, vid: str, video: str, cfg: dict[str, Any], scratch: str) -> Callable[[], None]:
    """The stage as its workflow script calls it (run inside the working folder), outputs into ``scratch``."""
    from btb import stages

    res, det = f"results/{vid}", cfg["detect"]
    models = {"yunet": f"{cfg['models']['dir']}/face_detection_yunet_2023mar.onnx",
              "retinaface": f"{cfg['models']['dir']}/retinaface_mnv2_floor{det['retinaface']['score_floor']}.onnx"}
    if stage in ("detect_yunet", "detect_retinaface"):
        name = stage.removeprefix("detect_")
        return lambda: stages.detect(name, video, f"{res}/frames.tsv", "1of1", models[name],
                                     f"{scratch}/{name}.parquet", f"{scratch}/{stage}.json", vid, dict(det[name]),
                                     det["threads"], det["device"])
    if stage == "encode_video":
        return lambda: stages.encode([], video, f"{res}/probe.json", f"{res}/frames.tsv", f"{scratch}/out.mp4",
                                     f"{scratch}/check.json", f"{scratch}/{stage}.json", vid, dict(cfg["encode"]), 2,
                                     regions=f"{res}/regions.parquet", blur_params=dict(cfg["blur"]))
    if stage == "verify_residual":
        return lambda: stages.verify_residual(
            f"{res}/{vid}.deid.mp4", f"{res}/regions.parquet", models, f"{scratch}/flags.tsv",
            f"{scratch}/verdict.json", f"{scratch}/{stage}.json", vid,
            {k: det[k] for k in ("yunet", "retinaface", "device")}, dict(cfg["verify"]), det["threads"])
    raise ValueError(f"unknown stage {stage!r}")


def child(stage: str, workdir: Path, vid: str, prof: Path) -> None:
    """Profile one stage in this (fresh) process."""
    os.chdir(workdir)
    cfg = yaml.safe_load(Path("config.yaml").read_text())
    video = Path("samples.tsv").read_text().splitlines()[1].split("\t")[1]  # as write_workdir wrote it
    scratch = f"profile/{stage}"
    Path(scratch).mkdir(parents=True, exist_ok=True)
    call = stage_call(stage, vid, video, cfg, scratch)
    profiler = cProfile.Profile()
    profiler.enable()
    call()
    profiler.disable()
    profiler.dump_stats(prof)


def where(func: tuple[str, int, str]) -> str:
    """``file:line(name)`` with the path cut to the package (site-packages/, src/) or marked built-in."""
    path, line, name = func
    if path == "~":
        return name.replace("|", "\\|")
    for marker in ("site-packages/", "/src/", f"{REPO}/", "/lib/python3"):
        if marker in path:
            path = path.split(marker, 1)[1]
            break
    return f"{path}:{line}({name})".replace("|", "\\|")


def top(prof: Path, key: str, n: int) -> tuple[float, list[str]]:
    st = pstats.Stats(str(prof))
    total = st.total_tt
    rows = []
    order = sorted(st.stats.items(), key=lambda kv: kv[1][3 if key == "cumulative" else 2], reverse=True)
    for func, (cc, nc, tt, ct, _callers) in order[:n]:
        calls = f"{nc}/{cc}" if nc != cc else str(nc)
        rows.append(f"| {ct:.3f} | {100 * ct / total:.1f} % | {tt:.3f} | {calls} | `{where(func)}` |")
    return total, rows


def frames_of(workdir: Path, vid: str) -> int:
    return sum(1 for _ in (workdir / "results" / vid / "frames.tsv").open()) - 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clip", type=Path, default=REPO.parent / "shared" / "eval" / "unlabeled" /
                    "short_hamilton_clip.mp4")
    ap.add_argument("--stages", nargs="+", default=list(STAGES), choices=list(STAGES))
    ap.add_argument("--models", type=Path, default=REPO / "resources" / "models")
    ap.add_argument("--top", type=int, default=25, help="entries by cumulative time per stage")
    ap.add_argument("--top-own", type=int, default=12, help="entries by own time per stage")
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "profile.md")
    ap.add_argument("--child", nargs=4, metavar=("STAGE", "WORKDIR", "VID", "PROF"), help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        stage, workdir, vid, prof = args.child
        child(stage, Path(workdir), vid, Path(prof))
        return 0

    vid = args.clip.stem
    workdir = Path(tempfile.mkdtemp(prefix=f"btb_profile_{vid}_"))
    prof_dir = cache_dir() / "profile"
    prof_dir.mkdir(parents=True, exist_ok=True)
    try:
        write_workdir(workdir, args.clip, vid, "union", args.models.resolve(), REPO)
        cfg_path = workdir / "config.yaml"
        cfg = yaml.safe_load(cfg_path.read_text())
        cfg["frames"]["keep_intermediates"] = True
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        print(f"[{vid}] workflow run (keeping its intermediates)", file=sys.stderr)
        timed(snakemake_cmd(workdir, 2, True, REPO), workdir / "snakemake.log")
        n = frames_of(workdir, vid)
        sections = []
        for stage in args.stages:
            prof = prof_dir / f"{vid}.{stage}.prof"
            cmd = [sys.executable, str(Path(__file__).resolve()), "--child", stage, str(workdir), vid, str(prof)]
            print(f"[{vid}] profiling {stage}", file=sys.stderr)
            t0 = time.perf_counter()
            subprocess.run(cmd, check=True)
            wall = time.perf_counter() - t0
            total, rows = top(prof, "cumulative", args.top)
            _, own = top(prof, "tottime", args.top_own)
            head = "| cumulative s | share | own s | calls | function |\n|---:|---:|---:|---:|---|"
            sections.append("\n".join([
                f"## {stage}", "",
                f"{n} frames; {total:.2f} s profiled ({n / total:.1f} frames/s under the profiler), process wall "
                f"{wall:.2f} s. Profile: `{prof}`.", "",
                f"Top {args.top} by cumulative time:", "", head, *rows, "",
                f"Top {args.top_own} by own time:", "", head, *own, ""]))
        commit = git(["rev-parse", "HEAD"])
        dirty = bool(git(["status", "--porcelain", "--untracked-files=no"]))
        doc = [
            "# Per-frame stages under cProfile", "",
            f"Clip `{args.clip.name}` ({n} frames); workflow commit {commit[:7]}"
            f"{' with uncommitted changes' if dirty else ''}; config/config.yaml defaults (detect.threads "
            f"{cfg['detect']['threads']}); {os.cpu_count()} CPUs, shared with other work while measured (times "
            "are noisy; compare shares within a stage). Command:", "",
            "```bash",
            f".venv/bin/python benchmarks/profile_stages.py --clip {args.clip} --out {args.out}",
            "```", "",
            "Each stage is called in a fresh process through the same `btb.stages` function and arguments as its "
            "workflow script, on the files of one workflow run. `share` = cumulative time / the stage's profiled "
            "total. cProfile inflates Python-level code more than native calls (ONNX Runtime, OpenCV, ffmpeg).", "",
            *sections]
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text("\n".join(doc), encoding="utf-8")
        print(f"wrote {args.out}", file=sys.stderr)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
