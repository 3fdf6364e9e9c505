"""This pipeline against deface and against a plain transcode, on the same clips in one run.

Per clip, in one run: the workflow end to end in each merge mode (``stage_fps.measure``: a fresh working
folder each, one job at a time, per-stage seconds and peak memory from Snakemake's benchmark files, right
after it a plain ffmpeg decode + re-encode at the pipeline's output settings as the floor), then deface at
its defaults (``deface CLIP --output OUT``: CenterFace threshold 0.2, mask scale 1.3, ellipse blur, its own
encoder settings). While the workflow runs, a sampling thread (``Watch``) records the disk used by
``results/<id>/work`` (the temporary blurred lossless chunks; before chunks, also the frame store) and by all
of ``results/``, and the summed RSS of this script's descendants; the same thread watches deface.

Clips (default): ``short_hamilton_clip.mp4`` (640x360), ``facenet_multiface_1080p.mp4`` (1080p) and a long
clip, ``short_hamilton_clip.mp4`` looped (``ffmpeg -stream_loop``, stream copy) to at least ``--loop-frames``
frames, made once in the cache folder (``$BTB_BENCH_CACHE``, else ``~/.cache/btb-benchmarks``; never in the
repository). Run from the repository root (the command behind benchmarks/results/vs_deface.json):

    .venv/bin/python benchmarks/vs_deface.py --deface /work/deface-venv/bin/deface --commit HEAD

``--quick`` is a validation run: each clip cut to its first ``--quick-frames`` frames, no long clip, no
repeats, output to ``vs_deface_quick.json`` in the cache folder. Other options as ``stage_fps.py``
(``--commit``, ``--retries``, ``--pause``, ``--contention``, ``--models``, ``--cores``, ``--parallel``: jobs
overlap as in a normal run instead of one at a time).

Figures per clip (JSON and a Markdown table): wall seconds and frames/s of the transcode, deface and each mode;
ratios (ours/deface throughput = deface wall / our wall, cascade/union wall, ours/transcode, deface/transcode,
and ours/deface on CPU seconds, which contention disturbs less); per-stage seconds and peak RSS; peak temporary
disk against the input's size; and the share of the wall time spent on audit hashing and verification:
``verify_residual`` and ``write_manifest`` (job seconds) plus the hashing inside the other stages, estimated
as the bytes their audit records list (every one of them was sha256-hashed) over the sha256 speed measured
in the same run.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil
from deface_tool import add_deface_option, cache_dir, deface_executable, deface_info
from stage_fps import (
    REPO,
    add_run_options,
    check_run_options,
    fmt,
    measure,
    own_cpu_seconds,
    retry_contended,
    run_header,
    timed,
    workflow_tree,
)

SHARED = REPO.parent / "shared" / "eval" / "unlabeled"
DEFAULT_CLIPS = [SHARED / "short_hamilton_clip.mp4", SHARED / "facenet_multiface_1080p.mp4"]
MODES = ("union", "cascade")
AUDIT_JOBS = ("write_manifest",)
VERIFY_JOBS = ("verify_residual",)


# ------------------------------------------------------------------------------------------ sampling
def disk_bytes(path: Path) -> int:
    """Bytes allocated on disk by the files below ``path`` (0 when it does not exist)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_blocks * 512
            except OSError:  # removed meanwhile
                pass
    return total


def descendants_rss() -> int:
    total = 0
    for p in psutil.Process().children(recursive=True):
        try:
            total += p.memory_info().rss
        except psutil.Error:  # ended meanwhile
            pass
    return total


class Watch:
    """Samples, every ``interval`` seconds in a thread, the disk used below ``folders`` and the summed RSS of
    this process's descendants (shared pages count once per process); also the CPU seconds of this process
    and its finished children between enter and exit. Sampling misses peaks shorter than ``interval``."""

    def __init__(self, folders: dict[str, Path], interval: float = 0.25) -> None:
        self.folders, self.interval = folders, interval
        self.peak_disk = dict.fromkeys(folders, 0)
        self.peak_rss, self.samples, self.cpu_s = 0, 0, math.nan
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _sample(self) -> None:
        for name, path in self.folders.items():
            self.peak_disk[name] = max(self.peak_disk[name], disk_bytes(path))
        self.peak_rss = max(self.peak_rss, descendants_rss())
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._sample()

    def __enter__(self) -> Watch:
        self._cpu0 = own_cpu_seconds()
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.cpu_s = own_cpu_seconds() - self._cpu0

    def result(self) -> dict[str, Any]:
        return {"peak_disk_bytes": self.peak_disk, "peak_rss_mb": self.peak_rss / 2**20, "cpu_s": self.cpu_s,
                "samples": self.samples, "interval_s": self.interval}


def workflow_watch(workdir: Path, vid: str) -> Watch:
    return Watch({"work": workdir / "results" / vid / "work", "results": workdir / "results"})


# ------------------------------------------------------------------------------------------ clips
def count_frames(clip: Path) -> int:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-count_packets", "-show_entries",
                          "stream=nb_read_packets", "-of", "csv=p=0", str(clip)], capture_output=True, text=True,
                         check=True)
    return int(out.stdout.strip().rstrip(","))


def ffmpeg(args: list[str], out: Path) -> Path:
    """Run ffmpeg into ``out`` (written under a temporary name first, so a cached file is always whole)."""
    out.parent.mkdir(parents=True, exist_ok=True)
    part = out.with_name(f".{out.stem}.part{out.suffix}")
    subprocess.run(["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args, str(part)], check=True)
    os.replace(part, out)
    return out


def looped_clip(src: Path, min_frames: int, cache: Path) -> Path:
    """``src`` played back to back (stream copy, video only) until it has at least ``min_frames`` frames."""
    loops = math.ceil(min_frames / count_frames(src))
    out = cache / f"{src.stem}_x{loops}.mp4"
    if not out.is_file():
        ffmpeg(["-stream_loop", str(loops - 1), "-i", str(src), "-map", "0:v:0", "-c", "copy"], out)
    return out


def first_frames(src: Path, frames: int, cache: Path) -> Path:
    """The first ``frames`` frames of ``src`` (re-encoded: libx264 crf 18, video only), for --quick."""
    out = cache / f"{src.stem}_first{frames}.mp4"
    if not out.is_file():
        ffmpeg(["-i", str(src), "-map", "0:v:0", "-frames:v", str(frames), "-c:v", "libx264", "-crf", "18",
                "-preset", "veryfast", "-pix_fmt", "yuv420p"], out)
    return out


# ------------------------------------------------------------------------------------------ runs
def run_deface(exe: Path, clip: Path) -> dict[str, Any]:
    """deface at its defaults on ``clip``, timed and watched (output in a temporary folder, deleted)."""
    outdir = Path(tempfile.mkdtemp(prefix=f"btb_vs_deface_{clip.stem}_"))
    try:
        out = outdir / f"{clip.stem}_anonymized.mp4"
        cmd = [str(exe), str(clip), "--output", str(out)]
        print(f"[{clip.stem} deface] {' '.join(cmd)}", file=sys.stderr)
        with Watch({"output": outdir}) as watch:
            wall, foreign = timed(cmd, outdir / "deface.log")
        if not out.is_file():
            sys.exit(f"deface wrote no output:\n{(outdir / 'deface.log').read_text()[-3000:]}")
        return {"command": cmd, "wall_s": wall, "foreign_cpu_s": foreign, "output_bytes": out.stat().st_size,
                "output_frames": count_frames(out), "monitor": watch.result()}
    finally:
        shutil.rmtree(outdir, ignore_errors=True)


def sha256_mb_per_s(mib: int = 128) -> float:
    """sha256 speed of this machine (best of three over ``mib`` MiB in memory), for the hashing estimate."""
    block = os.urandom(1 << 20)
    best = math.inf
    for _ in range(3):
        h, t0 = hashlib.sha256(), time.perf_counter()
        for _ in range(mib):
            h.update(block)
        best = min(best, time.perf_counter() - t0)
    return mib * 2**20 / 1e6 / best


def audit_share(r: dict[str, Any], sha_mb_s: float) -> dict[str, Any]:
    """Seconds and share of the end-to-end wall time spent on audit hashing and on residual verification."""
    stages, wall = r["stages"], r["end_to_end_s"]
    hashed = sum(st.get("hashed_bytes", 0) for name, st in stages.items() if name not in AUDIT_JOBS)
    parts = {
        "stage_hashing_est_s": hashed / 1e6 / sha_mb_s,
        **{f"{j}_s": stages.get(j, {}).get("s", 0.0) for j in AUDIT_JOBS + VERIFY_JOBS},
    }
    audit = parts["stage_hashing_est_s"] + sum(parts[f"{j}_s"] for j in AUDIT_JOBS)
    verify = sum(parts[f"{j}_s"] for j in VERIFY_JOBS)
    return {"hashed_bytes_in_stages": hashed, **parts, "audit_s": audit, "verification_s": verify,
            "audit_share": audit / wall, "verification_share": verify / wall, "share": (audit + verify) / wall}


def compare(clip: Path, frames: int, runs: dict[str, dict[str, Any]], deface: dict[str, Any],
            sha_mb_s: float) -> dict[str, Any]:
    transcode = min(r["transcode_s"] for r in runs.values())
    input_bytes = clip.stat().st_size
    modes: dict[str, Any] = {}
    for mode, r in runs.items():
        mon = r["monitor"]
        modes[mode] = {
            "wall_s": r["end_to_end_s"], "fps": frames / r["end_to_end_s"], "cpu_s": mon["cpu_s"],
            "transcode_s": r["transcode_s"], "ours_over_transcode": r["ratio"],
            "ours_over_deface_throughput": deface["wall_s"] / r["end_to_end_s"],
            "ours_over_deface_cpu": deface["monitor"]["cpu_s"] / mon["cpu_s"],
            "peak_work_disk_bytes": mon["peak_disk_bytes"]["work"],
            "peak_results_disk_bytes": mon["peak_disk_bytes"]["results"],
            "peak_work_disk_over_input": mon["peak_disk_bytes"]["work"] / input_bytes,
            "peak_rss_all_processes_mb": mon["peak_rss_mb"],
            "stages": {name: {k: st.get(k) for k in ("s", "audit_s", "max_rss_mb", "fps_audit", "frames_processed",
                                                     "hashed_bytes")} for name, st in r["stages"].items()},
            "audit_and_verification": audit_share(r, sha_mb_s),
            "contended": r["contended"], "foreign_cpu_s": r["foreign_cpu_s"],
            "cascade_frames_selected": r.get("cascade_frames_selected"),
        }
    out: dict[str, Any] = {
        "clip": str(clip), "frames": frames, "width": next(iter(runs.values()))["width"],
        "height": next(iter(runs.values()))["height"], "input_bytes": input_bytes,
        "transcode": {"wall_s": transcode, "fps": frames / transcode,
                      "command": next(iter(runs.values()))["transcode_command"]},
        "deface": {**deface, "fps": frames / deface["wall_s"], "deface_over_transcode": deface["wall_s"] / transcode},
        "modes": modes,
    }
    if "union" in runs and "cascade" in runs:
        out["cascade_over_union_time"] = runs["cascade"]["end_to_end_s"] / runs["union"]["end_to_end_s"]
    return out


def summary_table(c: dict[str, Any]) -> str:
    d, t = c["deface"], c["transcode"]
    lines = [f"### {Path(c['clip']).name} ({c['width']}x{c['height']}, {c['frames']} frames, "
             f"{c['input_bytes'] / 1e6:.2f} MB)", "",
             "| run | wall s | frames/s | CPU s | ours/deface throughput | ÷ transcode | peak work disk "
             "(× input) | audit + verification share |",
             "|---|---:|---:|---:|---:|---:|---:|---:|",
             f"| ffmpeg transcode (floor) | {t['wall_s']:.2f} | {t['fps']:.1f} | | | 1.0 | | |",
             f"| deface {d['version']} ({d['default_backend']}) | {d['wall_s']:.2f} | {d['fps']:.1f} "
             f"| {fmt(d['monitor']['cpu_s'], 1)} | | {d['deface_over_transcode']:.1f} | | |"]
    for mode, m in c["modes"].items():
        a = m["audit_and_verification"]
        lines.append(f"| btb {mode} | {m['wall_s']:.2f} | {m['fps']:.2f} | {fmt(m['cpu_s'], 1)} "
                     f"| {m['ours_over_deface_throughput']:.2f} | {m['ours_over_transcode']:.1f} "
                     f"| {m['peak_work_disk_bytes'] / 1e6:.0f} MB ({m['peak_work_disk_over_input']:.0f}×) "
                     f"| {a['share']:.0%} (audit {a['audit_share']:.0%}, verify {a['verification_share']:.0%}) |")
    if "cascade_over_union_time" in c:
        lines.append(f"\ncascade / union wall time: {c['cascade_over_union_time']:.2f}")
    stage_names = list(dict.fromkeys(n for m in c["modes"].values() for n in m["stages"]))
    lines += ["", "| stage | " + " | ".join(f"{mode} s | {mode} max RSS MB" for mode in c["modes"]) + " |",
              "|---|" + "---:|---:|" * len(c["modes"])]
    for name in stage_names:
        cells = []
        for m in c["modes"].values():
            st = m["stages"].get(name, {})
            cells += [fmt(st.get("s")), fmt(st.get("max_rss_mb"), 0)]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", nargs="+", type=Path, default=DEFAULT_CLIPS)
    ap.add_argument("--loop-clip", type=Path, default=DEFAULT_CLIPS[0], help="clip looped into the long clip")
    ap.add_argument("--loop-frames", type=int, default=3000, help="least frames of the long clip (0: no long clip)")
    ap.add_argument("--modes", nargs="+", default=list(MODES), choices=list(MODES))
    ap.add_argument("--quick", action="store_true", help="validation run: clips cut short, no long clip, no repeats")
    ap.add_argument("--quick-frames", type=int, default=30)
    ap.add_argument("--out", type=Path, help="default benchmarks/results/vs_deface.json (with --quick: "
                    "vs_deface_quick.json in the cache folder)")
    add_deface_option(ap)
    add_run_options(ap)
    args = ap.parse_args(argv)
    exe = deface_executable(args.deface)
    cache = cache_dir()
    clips = list(args.clips)
    if args.quick:
        clips = [first_frames(c, args.quick_frames, cache) for c in clips]
        args.retries = 0
    elif args.loop_frames:
        clips.append(looped_clip(args.loop_clip, args.loop_frames, cache))
    out_path = args.out or (cache / "vs_deface_quick.json" if args.quick
                            else REPO / "benchmarks" / "results" / "vs_deface.json")
    check_run_options(args, clips)
    info = deface_info(exe)
    sha = sha256_mb_per_s()

    def deface_contended(r: dict[str, Any]) -> bool:
        return r["foreign_cpu_s"] is not None and r["foreign_cpu_s"] > args.contention * r["wall_s"]

    results = []
    with workflow_tree(args.commit) as (wf, commit, dirty):
        for clip in clips:
            frames = count_frames(clip)
            runs = {mode: measure(clip, mode, wf, args, workflow_watch) for mode in args.modes}
            deface = retry_contended(lambda clip=clip: run_deface(exe, clip), deface_contended, args,
                                     f"{clip.stem} deface", ("wall_s", "foreign_cpu_s"))
            deface.update(version=info["version"], default_backend=info["default_backend"])
            c = compare(clip, frames, runs, deface, sha)
            c["stage_fps_runs"] = runs
            print(summary_table(c) + "\n", flush=True)
            results.append(c)

    doc = {**run_header(args, commit, dirty), "command": [Path(sys.argv[0]).name, *sys.argv[1:]],
           "quick": args.quick, "deface": info, "sha256_mb_per_s": sha,
           "loadavg_end": os.getloadavg(), "clips": results}
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(json.dumps(doc, indent=2, default=str) + "\n", encoding="utf-8")
    print(f"wrote {out_path}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
