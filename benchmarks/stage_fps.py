"""Frames per second of each workflow stage, against a plain ffmpeg transcode of the same clip as the floor.

For every clip and merge mode a throw-away working folder gets a one-row sample sheet and a copy of
``config/config.yaml`` (``samples`` = the sheet, ``models.dir`` = the already staged models of this checkout,
``models.mirror`` = "", ``merge.mode`` set); the real workflow is run there with

    python -m snakemake --snakefile <repo>/Snakefile --profile <repo>/profiles/default \\
        --directory WORKDIR --configfile WORKDIR/config.yaml --cores 2 \\
        --allowed-rules <every rule except those of workflow/rules/models.smk> \\
        --resources serial=1 --default-resources serial=1

``--allowed-rules`` keeps the model rules out: with ``models.dir`` outside the working folder Snakemake has
no metadata for the staged models and would otherwise rerun ``stage_yunet``/``stage_retinaface`` ("Code has
changed since last execution"), deleting the staged files first. The sha256 of every file in the models
folder is also checked before and after each run. ``--resources``/``--default-resources`` (drop them with
``--parallel``) give every job one unit of a resource of which only one
exists, so no two jobs run at once and each stage's time is its own, while ``--cores 2`` still lets
``encode_video`` use its 2 threads as in a normal run. Stage times come from the audit records
(``results/<vid>/audit/*.json``, key ``seconds``: the stage's work) and from Snakemake's benchmark files
(``results/benchmarks/<rule>/<vid>*.tsv``: ``s`` = the whole job including interpreter start-up, ``max_rss``);
frames from ``results/<vid>/frames.tsv``; the frames the cascade sent to RetinaFace from the manifest's
``select_cascade_frames.frames_selected``. Right after each workflow run the same clip is transcoded with
plain ffmpeg at the pipeline's output settings (libx264 -crf 18 -preset medium, -an, same thread count as
``encode_video``): the floor that any de-identification pipeline must pay.

Run from the repository root (the exact command behind benchmarks/results/stage_fps.json):

    .venv/bin/python benchmarks/stage_fps.py \\
        --clips ../shared/eval/unlabeled/short_hamilton_clip.mp4 \\
                ../shared/eval/unlabeled/facenet_multiface_1080p.mp4 \\
        --modes union cascade --commit HEAD --out benchmarks/results/stage_fps.json

``--commit REV`` runs the workflow exactly as committed (``git archive REV`` into a temporary folder, whose
``src/btb`` the job scripts import), so edits in progress in the working tree do not change what is timed.
Prints a Markdown table per clip and mode. Working folders (which briefly hold unblurred frames) are
deleted unless ``--keep-workdirs``. Other processes' CPU time during each run is measured (``/proc/stat`` minus
this script and its children); a clip/mode is measured again (``--retries``) when it exceeded ``--contention`` CPU
seconds per wall second, and the JSON keeps the rejected attempts' totals.
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import json
import os
import platform
import re
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from datetime import datetime
from pathlib import Path
from typing import Any

import yaml

REPO = Path(__file__).resolve().parents[1]
DETECT_STAGES = ("detect_yunet", "detect_retinaface_all", "detect_retinaface_cascade")
# Pipeline order of the stages (rules without an audit record only have a benchmark file).
# Rules of workflow/rules/models.smk (model staging, demo video) are kept out with --allowed-rules, so the
# staged models are plain inputs. Without this, a fresh working folder has no Snakemake metadata for the models
# under models.dir and Snakemake reruns stage_yunet/stage_retinaface ("Code has changed since last execution"),
# deleting the staged files first (and, offline, failing to fetch them again).
MODEL_RULES_FILE = "workflow/rules/models.smk"
RULE_LINE = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.MULTILINE)


# monitor(workdir, video_id) -> a context manager entered around one workflow run, with a result() -> dict
Monitor = Callable[[Path, str], Any]


def allowed_rules(wf: Path) -> list[str]:
    """Every rule of the workflow (as ``snakemake --list-rules`` names them: the detection rules are made in a
    loop) except those of workflow/rules/models.smk."""
    model_rules = set(RULE_LINE.findall((wf / MODEL_RULES_FILE).read_text()))
    with tempfile.TemporaryDirectory() as tmp:
        out = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(wf / "Snakefile"),
                              "--directory", tmp, "--list-rules"], capture_output=True, text=True, check=True)
    names = [n for n in out.stdout.split() if n.isidentifier()]
    return [n for n in names if n not in model_rules]


ORDER = ["probe_video", "index_frames", "detect_yunet", "gather_yunet", "select_cascade_frames",
         "detect_retinaface_all", "gather_retinaface_all", "detect_retinaface_cascade", "gather_retinaface_cascade",
         "merge_regions", "blur_frames", "encode_video", "verify_residual",
         "qa_report", "write_manifest", "release", "summarise_run"]


def models_digest(models_dir: Path) -> dict[str, str]:
    return {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in sorted(models_dir.iterdir()) if f.is_file()}


def write_workdir(workdir: Path, clip: Path, vid: str, mode: str, models_dir: Path, wf: Path,
                  chunks: int = 1, verify_every: int | None = None, threads: int | None = None) -> None:
    sheet = workdir / "samples.tsv"
    sheet.write_text(f"video_id\tpath\n{vid}\t{clip.resolve()}\n", encoding="utf-8")
    # laid over the tree's config/config.yaml (keys it leaves out take the schema's defaults)
    cfg = yaml.safe_load((wf / "config" / "config.yaml").read_text(encoding="utf-8")) or {}
    overlay(cfg, {"samples": str(sheet), "models": {"dir": str(models_dir.resolve()), "mirror": ""},
                  "merge": {"mode": mode}, "frames": {"chunks": chunks},
                  **({"verify": {"every": verify_every}} if verify_every is not None else {}),
                  **({"detect": {"threads": threads}} if threads is not None else {})})
    (workdir / "config.yaml").write_text(yaml.safe_dump(cfg, sort_keys=False), encoding="utf-8")


def overlay(base: dict[str, Any], over: dict[str, Any]) -> None:
    """``over`` laid onto ``base`` key by key (a tree of any commit: btb.config may differ there)."""
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            overlay(base[key], value)
        else:
            base[key] = value


def snakemake_cmd(workdir: Path, cores: int, serial: bool, wf: Path) -> list[str]:
    cmd = [sys.executable, "-m", "snakemake", "--snakefile", str(wf / "Snakefile"),
           "--profile", str(wf / "profiles" / "default"), "--directory", str(workdir),
           "--configfile", str(workdir / "config.yaml"), "--cores", str(cores),
           "--allowed-rules", *allowed_rules(wf)]
    if serial:
        cmd += ["--resources", "serial=1", "--default-resources", "serial=1"]
    return cmd


def transcode_cmd(clip: Path, out: Path, threads: int) -> list[str]:
    """A plain decode + re-encode at the pipeline's output settings (no blur, no metadata handling)."""
    return ["ffmpeg", "-nostdin", "-hide_banner", "-loglevel", "error", "-y", "-i", str(clip), "-an", "-sn",
            "-dn", "-c:v", "libx264", "-crf", "18", "-preset", "medium", "-pix_fmt", "yuv420p", "-threads",
            str(threads), "-f", "mp4", str(out)]


def machine_cpu_seconds() -> float | None:
    """CPU seconds the whole machine has been busy (Linux /proc/stat), None elsewhere."""
    try:
        fields = Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = (int(x) for x in fields[:8])
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


def own_cpu_seconds() -> float:
    """CPU seconds of this process and its finished (waited-for) children."""
    return sum(ru.ru_utime + ru.ru_stime for ru in (resource.getrusage(resource.RUSAGE_SELF),
                                                     resource.getrusage(resource.RUSAGE_CHILDREN)))


def workflow_env(wf: Path) -> dict[str, str]:
    """The environment of a workflow run from ``wf``: its own ``src`` first on the Python path, so that the jobs
    of a snapshot (``--commit``) import the snapshot's btb, not the editable install's working tree."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(wf / "src"), *filter(None, [env.get("PYTHONPATH")])])
    return env


def process_cpu_seconds(pid: int) -> float | None:
    """CPU seconds process ``pid`` itself has used so far, children not included (Linux /proc), else None."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime, stime


def timed(cmd: list[str], log: Path, env: dict[str, str] | None = None,
          own: dict[str, float] | None = None) -> tuple[float, float | None]:
    """Wall seconds of ``cmd`` and the CPU seconds that other processes used on the machine meanwhile. With
    ``own``, ``own["cpu_s"]`` is set to the CPU seconds of ``cmd``'s own process (read while it runs, last
    reading a fraction of a second before it ends): for Snakemake, its scheduling without the jobs."""
    busy0, own0 = machine_cpu_seconds(), own_cpu_seconds()
    t0 = time.perf_counter()
    with log.open("w") as fh:
        # Own process group, so that an interrupted benchmark stops the workflow's jobs too.
        proc = subprocess.Popen(cmd, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True, env=env)
        try:
            while own is not None and proc.poll() is None:
                seconds = process_cpu_seconds(proc.pid)
                if seconds is not None:
                    own["cpu_s"] = seconds
                time.sleep(0.2)
            proc.wait()
        except BaseException:
            os.killpg(proc.pid, signal.SIGTERM)
            proc.wait()
            raise
    seconds = time.perf_counter() - t0
    busy1, own1 = machine_cpu_seconds(), own_cpu_seconds()
    if proc.returncode != 0:
        sys.exit(f"command failed ({proc.returncode}): {' '.join(cmd)}\n{log.read_text()[-4000:]}")
    foreign = None if busy0 is None or busy1 is None else max(0.0, (busy1 - busy0) - (own1 - own0))
    return seconds, foreign


def read_benchmark(path: Path) -> dict[str, float]:
    with path.open() as fh:
        row = next(csv.DictReader(fh, delimiter="\t"))
    return {"s": float(row["s"]), "max_rss_mb": float(row["max_rss"]) if row["max_rss"] not in ("", "-", "NA")
            else None, "cpu_time": float(row["cpu_time"]) if row.get("cpu_time") not in (None, "", "-", "NA")
            else None}


def parse_utc(text: str) -> float:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


CHUNK = re.compile(r"^(.*?)[._](\d+of\d+)$")


def stage_name(stem: str, gathered: bool = False) -> tuple[str, bool]:
    """The stage of an audit record or benchmark file name, and whether it is one chunk's job
    (``detect_yunet.1of4`` -> detect_yunet). ``gathered``: a detector's record of its gathering job (with
    frames.chunks > 1; with one chunk the detection job writes the table and its record itself)."""
    m = CHUNK.match(stem)
    if m:
        return m.group(1), True
    if gathered and stem.startswith("detect_"):
        return "gather_" + stem.removeprefix("detect_"), False
    return stem, False


def collect(workdir: Path, vid: str) -> dict[str, Any]:
    res = workdir / "results"
    with (res / vid / "frames.tsv").open() as fh:
        n_frames = sum(1 for _ in csv.DictReader(fh, delimiter="\t"))
    manifest = json.loads((res / vid / "manifest.json").read_text())
    stages: dict[str, dict[str, Any]] = {}
    for path in sorted((res / vid / "audit").glob("*.json")):
        rec = json.loads(path.read_text())
        name, chunked = stage_name(path.stem, "chunk_seconds" in rec.get("notes", {}))
        st = stages.setdefault(name, {"audit_s": 0.0, "counts": {}, "hashed_bytes": 0, "chunks": 0})
        st["audit_s"] += rec["seconds"]
        st["chunks"] += chunked
        for k, v in rec.get("counts", {}).items():  # chunk jobs add up
            st["counts"][k] = st["counts"].get(k, 0) + v if isinstance(v, int | float) else v
        st["started"] = min(st.get("started", float("inf")), parse_utc(rec["started_utc"]))
        st["ended"] = max(st.get("ended", 0.0), parse_utc(rec["ended_utc"]))
        # every file a stage records was sha256-hashed by it (btb.audit.records)
        st["hashed_bytes"] += sum(f["bytes"] for f in rec.get("inputs", []) + rec.get("outputs", []))
    bench_root = res / "benchmarks"
    for path in sorted(bench_root.glob(f"*/{vid}[._]*.tsv")) + sorted(bench_root.glob(f"*/{vid}.tsv")):
        rule, rest = path.parent.name, path.stem[len(vid):].lstrip("._")
        # detect_retinaface/<vid>_all.1of2.tsv -> detect_retinaface_all; gather_detections/<vid>.yunet.tsv
        # -> gather_yunet; chunk jobs of one stage add up (seconds and CPU time; peak memory: the largest)
        name, _ = stage_name(f"{rule}_{rest}" if rest else rule, rule == "gather_detections")
        name = name.replace("gather_detections_", "gather_")
        st = stages.setdefault(name, {})
        for k, v in read_benchmark(path).items():
            if v is None:
                continue
            st[k] = max(st.get(k) or 0.0, v) if k == "max_rss_mb" else (st.get(k) or 0.0) + v
    if (bench_root / "summarise_run.tsv").exists():
        stages.setdefault("summarise_run", {}).update(read_benchmark(bench_root / "summarise_run.tsv"))
    for name, st in stages.items():
        st["fps_audit"] = n_frames / st["audit_s"] if st.get("audit_s") else None
        st["fps_job"] = n_frames / st["s"] if st.get("s") else None
        processed = st.get("counts", {}).get("frames_processed")
        if name in DETECT_STAGES and processed is not None:
            st["frames_processed"] = processed
            st["fps_processed_audit"] = processed / st["audit_s"] if st.get("audit_s") else None
    ordered = {k: stages[k] for k in ORDER if k in stages} | {k: v for k, v in stages.items() if k not in ORDER}
    # Did any two audited stages run at the same time?
    spans = sorted((v["started"], v["ended"], k) for k, v in ordered.items() if "started" in v)
    overlaps = [(a[2], b[2]) for i, a in enumerate(spans) for b in spans[i + 1:] if b[0] < a[1] - 1e-3]
    return {"frames": n_frames, "stages": ordered, "overlapping_stages": overlaps,
            "cascade_frames_selected": manifest["counts"].get("select_cascade_frames.frames_selected"),
            "manifest_counts": manifest["counts"]}


def fmt(x: float | None, digits: int = 2) -> str:
    return "" if x is None else f"{x:.{digits}f}"


def table(clip: str, mode: str, r: dict[str, Any]) -> str:
    size = f"{r['width']}x{r['height']}, {r['frames']} frames"
    title = f"{clip} ({size}), merge mode {mode}, {r.get('chunks', 1)} chunk(s)"
    lines = [f"### {title}", "",
             "| stage | stage s (audit) | job s (benchmark) | frames/s (audit) | frames/s (job) "
             "| frames processed | processed frames/s | max RSS MB |",
             "|---|---:|---:|---:|---:|---:|---:|---:|"]
    for name, st in r["stages"].items():
        lines.append(f"| {name} | {fmt(st.get('audit_s'))} | {fmt(st.get('s'))} | {fmt(st.get('fps_audit'), 1)} "
                     f"| {fmt(st.get('fps_job'), 1)} | {st.get('frames_processed', '')} "
                     f"| {fmt(st.get('fps_processed_audit'), 1)} | {fmt(st.get('max_rss_mb'), 0)} |")
    lines += ["", f"- end-to-end snakemake wall: {r['end_to_end_s']:.2f} s "
              f"({r['frames'] / r['end_to_end_s']:.1f} frames/s)",
              f"- plain ffmpeg transcode (floor): {r['transcode_s']:.2f} s "
              f"({r['frames'] / r['transcode_s']:.1f} frames/s)",
              f"- ratio end-to-end / transcode: {r['ratio']:.1f}x",
              f"- sum of job seconds: {r['sum_job_s']:.2f} s; stages overlapped: "
              f"{'yes ' + str(r['overlapping_stages']) if r['overlapping_stages'] else 'no'}",
              f"- CPU seconds used by other processes: {fmt(r['foreign_cpu_s'], 1)} during the workflow, "
              f"{fmt(r['transcode_foreign_cpu_s'], 1)} during the transcode"]
    if r.get("cascade_frames_selected") is not None:
        lines.append(f"- cascade frames sent to RetinaFace: {r['cascade_frames_selected']} of {r['frames']}")
    return "\n".join(lines)


def git(args: list[str]) -> str:
    return subprocess.run(["git", "-C", str(REPO), *args], capture_output=True, text=True, check=True).stdout.strip()


def probe_size(clip: Path) -> tuple[int, int]:
    out = subprocess.run(["ffprobe", "-v", "error", "-select_streams", "v:0", "-show_entries",
                          "stream=width,height", "-of", "json", str(clip)], capture_output=True, text=True,
                         check=True)
    s = json.loads(out.stdout)["streams"][0]
    return int(s["width"]), int(s["height"])


def add_run_options(ap: argparse.ArgumentParser) -> None:
    """Options of a workflow run (shared with vs_deface.py)."""
    ap.add_argument("--models", type=Path, default=REPO / "resources" / "models",
                    help="folder with the staged models (not restaged)")
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--parallel", action="store_true",
                    help="let independent jobs overlap (no serialising resource)")
    ap.add_argument("--keep-workdirs", action="store_true")
    ap.add_argument("--retries", type=int, default=3,
                    help="measure a clip/mode again (at most this often) when other processes competed for the CPUs")
    ap.add_argument("--contention", type=float, default=0.1,
                    help="competition threshold: CPU seconds of other processes per wall second")
    ap.add_argument("--pause", type=float, default=60, help="seconds to wait before measuring again")
    ap.add_argument("--chunks", type=int, nargs="+", default=[1],
                    help="frames.chunks: jobs per video for detection and blurring (several: each is measured)")
    ap.add_argument("--verify-every", type=int, default=None,
                    help="verify.every: detect on every n-th output frame in residual verification (default: the "
                    "config's)")
    ap.add_argument("--threads", type=int, default=None,
                    help="detect.threads: threads per detection and verification job (default: the config's)")
    ap.add_argument("--commit", help="run the workflow as committed at this revision (exported with git archive "
                    "into a temporary folder) instead of the working tree")


def check_run_options(args: argparse.Namespace, clips: list[Path]) -> None:
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # clean up (finally blocks) when stopped
    args.models = args.models.resolve()
    if not models_digest(args.models):
        sys.exit(f"no staged models in {args.models}; run ./setup.sh first (this benchmark does not stage them)")
    for clip in clips:
        if not clip.is_file():
            sys.exit(f"clip not found: {clip}")


@contextmanager
def workflow_tree(rev: str | None) -> Iterator[tuple[Path, str, bool]]:
    """(folder, commit, uncommitted changes) of the workflow to run: this checkout as it is, or with ``rev``
    the commit exported with git archive into a temporary folder (removed afterwards)."""
    if not rev:
        yield REPO, git(["rev-parse", "HEAD"]), bool(git(["status", "--porcelain", "--untracked-files=no"]))
        return
    snapshot = Path(tempfile.mkdtemp(prefix="btb_fps_workflow_"))
    try:
        archive = subprocess.run(["git", "-C", str(REPO), "archive", rev], capture_output=True, check=True)
        subprocess.run(["tar", "-x", "-C", str(snapshot)], input=archive.stdout, check=True)
        yield snapshot, git(["rev-parse", rev]), False
    finally:
        shutil.rmtree(snapshot, ignore_errors=True)


def run_header(args: argparse.Namespace, commit: str, dirty: bool) -> dict[str, Any]:
    return {"workflow_commit": commit, "working_tree_changes": dirty, "serialised": not args.parallel,
            "cores": args.cores,
            "machine": {"cpus": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version()}}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clips", nargs="+", type=Path, required=True)
    ap.add_argument("--modes", nargs="+", default=["union", "cascade"], choices=["union", "cascade", "intersection"])
    ap.add_argument("--out", type=Path, default=REPO / "benchmarks" / "results" / "stage_fps.json")
    add_run_options(ap)
    args = ap.parse_args(argv)
    check_run_options(args, args.clips)
    with workflow_tree(args.commit) as (wf, commit, dirty):
        results = [measure(clip, mode, wf, args, chunks=c) for clip in args.clips for mode in args.modes
                   for c in args.chunks]

    args.out.parent.mkdir(parents=True, exist_ok=True)
    doc = {**run_header(args, commit, dirty), "runs": results}
    args.out.write_text(json.dumps(doc, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


def contended(r: dict[str, Any], share: float) -> bool:
    """Did other processes use more than ``share`` of a CPU on average during the workflow or the transcode?"""
    return any(f is not None and f > share * s for f, s in ((r["foreign_cpu_s"], r["end_to_end_s"]),
                                                            (r["transcode_foreign_cpu_s"], r["transcode_s"])))


def measure(clip: Path, mode: str, wf: Path, args: argparse.Namespace, monitor: Monitor | None = None,
            chunks: int | None = None) -> dict[str, Any]:
    """One clean run, retried (up to --retries times) while other processes competed for the CPUs."""
    chunks = chunks or args.chunks[0]
    return retry_contended(lambda: run_one(clip, mode, wf, args, monitor, chunks),
                           lambda r: contended(r, args.contention), args, f"{clip.stem} {mode} chunks={chunks}",
                           ("end_to_end_s", "transcode_s", "foreign_cpu_s", "transcode_foreign_cpu_s"))


def retry_contended(run: Callable[[], dict[str, Any]], is_contended: Callable[[dict[str, Any]], bool],
                    args: argparse.Namespace, label: str, keep: tuple[str, ...]) -> dict[str, Any]:
    """``run()`` again (at most ``args.retries`` times, ``args.pause`` seconds apart) while ``is_contended``;
    the result records whether it was contended and the ``keep`` figures of the rejected attempts."""
    rejected: list[dict[str, Any]] = []
    while True:
        r = run()
        if not is_contended(r) or len(rejected) >= args.retries:
            break
        print(f"[{label}] other processes competed for the CPUs "
              f"({', '.join(f'{k}={r[k]:.1f}' for k in keep if r.get(k) is not None)}): measuring again",
              file=sys.stderr)
        rejected.append({k: r[k] for k in keep})
        time.sleep(args.pause)
    r["contended"] = is_contended(r)
    r["rejected_attempts"] = rejected
    return r


def run_one(clip: Path, mode: str, wf: Path, args: argparse.Namespace, monitor: Monitor | None = None,
            chunks: int = 1) -> dict[str, Any]:
    """One workflow run and one transcode of ``clip``. ``monitor(workdir, video_id)``, if given, is entered
    around the workflow run only; its ``result()`` is stored under ``monitor``."""
    width, height = probe_size(clip)
    vid = clip.stem
    encode_threads = min(2, args.cores)  # rule encode_video asks for 2 threads, capped by --cores
    workdir = Path(tempfile.mkdtemp(prefix=f"btb_fps_{vid}_{mode}_"))
    try:
        write_workdir(workdir, clip, vid, mode, args.models, wf, chunks, getattr(args, "verify_every", None),
                      getattr(args, "threads", None))
        cmd = snakemake_cmd(workdir, args.cores, not args.parallel, wf)
        print(f"[{vid} {mode}] {' '.join(cmd)}", file=sys.stderr)
        before = models_digest(args.models)
        load_before = os.getloadavg()
        watch = monitor(workdir, vid) if monitor else nullcontext()
        with watch:
            end_to_end, foreign = timed(cmd, workdir / "snakemake.log", workflow_env(wf))
        load_after = os.getloadavg()
        if models_digest(args.models) != before:
            sys.exit(f"the models in {args.models} changed during the run; restage them (./setup.sh)")
        tc = transcode_cmd(clip, workdir / "transcode.mp4", encode_threads)
        transcode, foreign_tc = timed(tc, workdir / "transcode.log")
        r = collect(workdir, vid)
        r.update(clip=str(clip), video_id=vid, mode=mode, chunks=chunks, width=width, height=height,
                 snakemake_command=cmd,
                 transcode_command=tc, end_to_end_s=end_to_end, transcode_s=transcode,
                 ratio=end_to_end / transcode, loadavg_before=load_before,
                 loadavg_after=load_after, foreign_cpu_s=foreign, transcode_foreign_cpu_s=foreign_tc,
                 sum_job_s=sum(st.get("s", 0.0) for st in r["stages"].values()))
        if monitor:
            r["monitor"] = watch.result()
        for st in r["stages"].values():
            st.pop("started", None)
            st.pop("ended", None)
        print(table(clip.name, mode, r) + "\n", flush=True)
        return r
    finally:
        if args.keep_workdirs:
            print(f"kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
