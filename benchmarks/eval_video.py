"""Privacy metric of YuNet, RetinaFace, union and cascade on the labeled clips of ``../shared/eval/video``.

Uses the project's own code end to end: frame store (``btb.video.frames``), detectors (``btb.stages.
make_detector``), detection tables (``btb.tables``), cascade frame selection (``btb.cascade``), merging
(``btb.merge``) and the metric (``btb.metrics``, whose masks are ``btb.blur.region_mask``). Detection tables
are cached per clip (keyed by detector settings and model file), so re-scoring with another ``--shape`` or
``--enlarge`` only re-merges.

    python benchmarks/eval_video.py --eval-dir ../shared/eval/video --models resources/models \\
        --out benchmarks/results/eval_video.json [--shape box] [--enlarge 1.3]

Exits 0 with a message when the evaluation folder is absent (the data are not part of the repository).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from btb.boxes import iou_matrix
from btb.cascade import CascadeRule, select_uncertain_frames
from btb.config import load_config
from btb.hashing import sha256_file
from btb.merge import MergeParams, merge_detections
from btb.metrics import face_coverages, pool, summarise
from btb.stages import make_detector
from btb.tables import concat_detections, detections_frame, read_detections, write_detections
from btb.video.frames import extract_store, iter_store
from btb.video.probe import frame_times

ROOT = Path(__file__).resolve().parents[1]
DETECTORS = {
    "yunet": "face_detection_yunet_2023mar.onnx",
    "retinaface": "retinaface_mnv2_floor0.05.onnx",
}
METHODS = ("yunet", "retinaface", "union", "cascade")
GROUPS = {"ytf": lambda clip: clip.startswith("ytf_"), "mil_girl": lambda clip: clip == "mil_girl"}


# ------------------------------------------------------------------------------------------- detection
def _cache_key(name: str, model: Path, cfg: dict[str, Any]) -> str:
    blob = json.dumps({"detector": name, "model_sha256": sha256_file(model), "cfg": cfg}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


def detect_clip(video: Path, models_dir: Path, det_cfg: dict[str, dict[str, Any]], cache: Path,
                log: Any) -> dict[str, Any]:
    """Detection tables of every frame for both detectors (cached), with frame count, size and timings."""
    clip = video.stem
    keys = {n: _cache_key(n, models_dir / f, det_cfg[n]) for n, f in DETECTORS.items()}
    meta_path = cache / clip / "meta.json"
    paths = {n: cache / clip / f"{n}-{keys[n]}.parquet" for n in DETECTORS}
    meta: dict[str, Any] = json.loads(meta_path.read_text()) if meta_path.is_file() else {}
    missing = [n for n in DETECTORS if not paths[n].is_file() or n not in meta.get("seconds", {})]
    if missing:
        with tempfile.TemporaryDirectory(prefix=f"btb-eval-{clip}-") as tmp:
            t0 = time.perf_counter()
            table = extract_store(video, Path(tmp) / "store", chunk_seconds=10)
            meta["extract_seconds"] = time.perf_counter() - t0
            meta["n_frames"] = len(table)
            meta.setdefault("seconds", {})
            for name in missing:
                detector = make_detector(name, str(models_dir / DETECTORS[name]), det_cfg[name], threads=1,
                                         device="cpu")
                parts, spent, n = [], 0.0, 0
                for frame in iter_store(Path(tmp) / "store"):
                    meta["height"], meta["width"] = frame.image.shape[:2]
                    t = time.perf_counter()
                    d = detector.detect(frame.image)
                    spent += time.perf_counter() - t
                    parts.append(detections_frame(frame.index, name, d.boxes, d.scores, d.landmarks, d.scale))
                    n += 1
                if n != len(table):
                    raise RuntimeError(f"{clip}: store yielded {n} frames, its table lists {len(table)}")
                write_detections(concat_detections(parts), paths[name])
                meta["seconds"][name] = {"total": spent, "frames": n, "per_frame": spent / n}
                log(f"  {clip}: {name} {n} frames, {1000 * spent / n:.1f} ms/frame")
        meta_path.parent.mkdir(parents=True, exist_ok=True)
        meta_path.write_text(json.dumps(meta, indent=1))
    return {**meta, "tables": {n: read_detections(paths[n]) for n in DETECTORS}}


# --------------------------------------------------------------------------------------------- methods
def method_regions(tables: dict[str, pd.DataFrame], n_frames: int, width: int, height: int,
                   merge_cfg: dict[str, Any]) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Region tables of the four methods, and the cascade's frame selection."""
    def params(mode: str) -> MergeParams:
        return MergeParams(mode=mode, thresholds=merge_cfg["thresholds"], fuse_iou=merge_cfg["fuse_iou"],
                           match_iou=merge_cfg["match_iou"], enlarge=merge_cfg["enlarge"],
                           shape=merge_cfg["shape"])

    y, r = tables["yunet"], tables["retinaface"]
    rule = CascadeRule(float(merge_cfg["thresholds"]["yunet"]), float(merge_cfg["cascade"]["uncertain_floor"]),
                       int(merge_cfg["cascade"]["neighbours"]))
    sel = select_uncertain_frames(y, n_frames, rule)
    # RetinaFace is deterministic per frame: its table restricted to the selected frames is what the
    # workflow's cascade run (RetinaFace on those frames only) produces
    r_cascade = r[r["frame_index"].isin(sel["frame_index"])]
    out = {
        "yunet": merge_detections({"yunet": y}, params("union"), width, height),
        "retinaface": merge_detections({"retinaface": r}, params("union"), width, height),
        "union": merge_detections({"yunet": y, "retinaface": r}, params("union"), width, height),
        "cascade": merge_detections({"yunet": y, "retinaface": r_cascade}, params("cascade"), width, height),
    }
    return out, sel


# ------------------------------------------------------------------------------------------ sanity
def alignment(gt: pd.DataFrame, yunet: pd.DataFrame, threshold: float, offsets: range = range(-2, 3)
              ) -> dict[str, Any]:
    """Does GT frame i match YuNet's boxes (score >= threshold) of frame i, or of a neighbour i+k?

    Per offset k: the mean best IoU with GT (0 where frame i+k has no box) and the median distance from the
    GT centre to the nearest box centre, in GT widths, over the frames that have a box. The distance is the
    sharper test where labels are head boxes (mil_girl: IoU with face boxes is low throughout); with
    frame-aligned labels it is smallest at k = 0 (``best_offset``
    is non-zero only when some shift beats k = 0 by more than 10%).
    """
    lab = gt[gt["labeled"] == 1]
    y = yunet[yunet["score"] >= threshold]
    by_frame = {int(k): g[["x", "y", "w", "h"]].to_numpy() for k, g in y.groupby("frame_index")}
    iou: dict[str, float] = {}
    dist: dict[str, float] = {}
    for k in offsets:
        ious, dists = [], []
        for f, x, yy, w, h in lab[["frame_index", "x", "y", "w", "h"]].itertuples(index=False):
            boxes = by_frame.get(int(f) + k)
            if boxes is None:
                ious.append(0.0)
                continue
            ious.append(float(iou_matrix(np.array([[x, yy, w, h]]), boxes).max()))
            centres = boxes[:, :2] + boxes[:, 2:] / 2
            dists.append(float(np.hypot(*(centres - [x + w / 2, yy + h / 2]).T).min() / w))
        iou[str(k)] = float(np.mean(ious)) if ious else math.nan
        dist[str(k)] = float(np.median(dists)) if dists else math.nan
    best = min(dist, key=lambda k: dist[k] if not math.isnan(dist[k]) else math.inf)
    if not dist.get("0", math.nan) > 0 or dist[best] > 0.9 * dist["0"]:
        best = "0"  # a shift must beat frame-aligned matching clearly (by 10%) to count as misalignment
    return {"mean_best_iou_by_offset": iou, "median_centre_distance_by_offset": dist, "best_offset": int(best)}


# ------------------------------------------------------------------------------------------- report
def _f(v: float, digits: int = 3) -> str:
    return "—" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}f}"


def markdown(result: dict[str, Any]) -> str:
    s = result["settings"]["merge"]
    g = result["groups"]
    lines = [
        f"shape {s['shape']}, enlarge {s['enlarge']}, thresholds {s['thresholds']}, "
        f"cascade floor {s['cascade']['uncertain_floor']} ±{s['cascade']['neighbours']}",
        "",
        "| method | ytf_* rec@0.8 (exposed) | ytf_* rec@0.5 | ytf_* blur ratio | mil_girl rec@0.8 / rec@0.5 "
        "| mil_girl exposed | mil_girl blur ratio | RetinaFace frames (ytf, mil) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for m in METHODS:
        y, mg = g["ytf"][m], g["mil_girl"][m]
        rf = result["retinaface_frames"]
        frames = {
            "yunet": "0, 0",
            "retinaface": f"{rf['ytf']['all']}, {rf['mil_girl']['all']}",
            "union": f"{rf['ytf']['all']}, {rf['mil_girl']['all']}",
            "cascade": f"{rf['ytf']['cascade']}, {rf['mil_girl']['cascade']}",
        }[m]
        lines.append(
            f"| {m} | {_f(y['recall_at_0_8'])} ({y['exposed_frames']}/{y['labeled_faces']}) "
            f"| {_f(y['recall_at_0_5'])} | {_f(y['blur_area_ratio'], 2)} "
            f"| {_f(mg['recall_at_0_8'], 2)} / {_f(mg['recall_at_0_5'], 2)} "
            f"| {mg['exposed_frames']}/{mg['labeled_faces']} | {_f(mg['blur_area_ratio'], 2)} | {frames} |"
        )
    lines += ["", "| clip | size | frames | YuNet ms/frame | RetinaFace ms/frame | cascade frames | "
              "GT/YuNet IoU @0 | GT/YuNet centre dist @-1/0/+1 (best offset) |", "|---|---|---|---|---|---|---|---|"]
    for clip, c in result["clips"].items():
        a = c["alignment"]
        lines.append(
            f"| {clip} | {c['width']}x{c['height']} | {c['n_frames']} "
            f"| {1000 * c['seconds']['yunet']['per_frame']:.1f} | {1000 * c['seconds']['retinaface']['per_frame']:.1f} "
            f"| {c['cascade_frames']} | {_f(a['mean_best_iou_by_offset']['0'], 2)} "
            f"| {'/'.join(_f(a['median_centre_distance_by_offset'][k], 3) for k in ('-1', '0', '1'))} "
            f"({a['best_offset']:+d}) |"
        )
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval" / "video")
    ap.add_argument("--models", type=Path, default=ROOT / "resources" / "models")
    ap.add_argument("--config", type=Path, default=ROOT / "config" / "config.yaml")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "eval_video.json")
    ap.add_argument("--cache", type=Path, default=Path(tempfile.gettempdir()) / "btb-eval-video-cache",
                    help="detection tables per clip (reused when detector settings and model are unchanged)")
    ap.add_argument("--shape", choices=("ellipse", "box"), help="override merge.shape")
    ap.add_argument("--enlarge", type=float, help="override merge.enlarge")
    ap.add_argument("--clips", nargs="*", help="only these clip names (default: every *_gt.csv)")
    args = ap.parse_args(argv)

    def log(msg: str) -> None:
        print(msg, file=sys.stderr, flush=True)

    if not args.eval_dir.is_dir():
        log(f"evaluation folder {args.eval_dir} is absent: nothing to do")
        return 0
    cfg = load_config(args.config)
    det_cfg = {n: cfg["detect"][n] for n in DETECTORS}
    merge_cfg = dict(cfg["merge"])
    if args.shape:
        merge_cfg["shape"] = args.shape
    if args.enlarge is not None:
        merge_cfg["enlarge"] = args.enlarge

    clips: dict[str, Any] = {}
    covs: dict[str, dict[str, pd.DataFrame]] = {m: {} for m in METHODS}
    warnings: list[str] = []
    for gt_path in sorted(args.eval_dir.glob("*_gt.csv")):
        name = gt_path.name[: -len("_gt.csv")]
        if args.clips and name not in args.clips:
            continue
        video = gt_path.with_name(f"{name}.mp4")
        gt = pd.read_csv(gt_path)
        log(f"{name}: detecting")
        d = detect_clip(video, args.models, det_cfg, args.cache, log)
        n, width, height = d["n_frames"], d["width"], d["height"]
        n_probe = len(frame_times(video))
        if not (n == n_probe == len(gt)) or gt["frame_index"].tolist() != list(range(len(gt))):
            warnings.append(f"{name}: store {n} frames, ffprobe {n_probe} packets, GT {len(gt)} rows")
        regs, sel = method_regions(d["tables"], n, width, height, merge_cfg)
        scores = {}
        for m in METHODS:
            cov = face_coverages(gt, regs[m], height, width)
            covs[m][name] = cov
            scores[m] = summarise(cov)
        align = alignment(gt, d["tables"]["yunet"], float(merge_cfg["thresholds"]["yunet"]))
        if align["best_offset"] != 0:
            warnings.append(f"{name}: GT centres match YuNet best at frame offset {align['best_offset']:+d}")
        clips[name] = {
            "width": width, "height": height, "n_frames": n, "ffprobe_frames": n_probe, "gt_rows": len(gt),
            "labeled": int((gt["labeled"] == 1).sum()), "seconds": d["seconds"],
            "cascade_frames": len(sel), "cascade_reasons": sel["reason"].value_counts().to_dict(),
            "alignment": align, "scores": scores,
        }
        log(f"  {name}: " + ", ".join(f"{m} {scores[m]['recall_at_0_8']:.3f}" for m in METHODS))

    groups = {
        g: {m: pool({c: v for c, v in covs[m].items() if member(c)}) for m in METHODS}
        for g, member in GROUPS.items() if any(member(c) for c in clips)
    }
    frames = {
        g: {"all": sum(c["n_frames"] for k, c in clips.items() if member(k)),
            "cascade": sum(c["cascade_frames"] for k, c in clips.items() if member(k))}
        for g, member in GROUPS.items()
    }
    timing: dict[str, dict[str, float]] = {}
    for c in clips.values():
        size = f"{c['width']}x{c['height']}"
        for det, s in c["seconds"].items():
            t = timing.setdefault(det, {}).setdefault(size, [0.0, 0])  # type: ignore[arg-type]
            t[0] += s["total"]
            t[1] += s["frames"]
    result = {
        "settings": {"config": str(args.config), "detect": det_cfg, "merge": merge_cfg, "threads": 1,
                     "device": "cpu", "models": {n: str(args.models / f) for n, f in DETECTORS.items()}},
        "clips": clips,
        "groups": groups,
        "retinaface_frames": frames,
        "seconds_per_frame": {det: {size: v[0] / v[1] for size, v in d.items()} for det, d in timing.items()},
        "warnings": warnings,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=1, default=float))
    if {"ytf", "mil_girl"} <= groups.keys():
        print(markdown(result))
    print("\nseconds/frame by resolution: " + json.dumps(result["seconds_per_frame"]))
    for w in warnings:
        print(f"WARNING: {w}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
