"""Evaluation stages run by the workflow's ``evaluate`` target (thin scripts call these)."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import pandas as pd

from btb import wider
from btb.audit import write_json
from btb.evaluate import LabeledClip, LabeledImages, evaluate_images, evaluate_videos, read_video_gt
from btb.image import read_image
from btb.stages import make_detector
from btb.tables import concat_detections, detections_frame, read_detections, write_detections

SWEEP = {"yunet": [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9], "retinaface": [0.1, 0.2, 0.3, 0.5, 0.7, 0.9],
         "centerface": [0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7]}
SWEEP_METHODS = ("yunet", "retinaface", "centerface", "union", "union3")


def clean(obj: Any) -> Any:
    """JSON-safe: NaN and infinities become None, numpy scalars plain numbers."""
    if isinstance(obj, dict):
        return {str(k): clean(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [clean(v) for v in obj]
    if hasattr(obj, "item") and not isinstance(obj, str):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    return obj


def detect_image_set(name: str, image_dir: str, gt_file: str, detector: str, model: str, cfg: dict[str, Any],
                     out_table: str, out_meta: str, threads: int = 1) -> None:
    """Run one detector over every image the ground truth lists (in its order); cache table and timings."""
    gt = wider.read_wider_gt(gt_file)
    images = list(gt)
    det = make_detector(detector, model, cfg, threads, "cpu")
    parts, sizes, spent = [], {}, 0.0
    for i, img_name in enumerate(images):
        image = read_image(Path(image_dir) / img_name)
        sizes[img_name] = list(image.shape[:2])
        t = time.perf_counter()
        d = det.detect(image)
        spent += time.perf_counter() - t
        parts.append(detections_frame(i, detector, d.boxes, d.scores, d.landmarks, d.scale))
    write_detections(concat_detections(parts), out_table)
    write_json(out_meta, {"set": name, "detector": detector, "images": images, "sizes": sizes,
                          "seconds": spent, "config": cfg})


def score_image_set(name: str, image_dir: str, gt_file: str, difficulty_dir: str, tables: dict[str, str],
                    metas: dict[str, str], merge_cfg: dict[str, Any], blur_cfg: dict[str, Any], out: str) -> None:
    gt = wider.read_wider_gt(gt_file)
    meta = {d: json.loads(Path(p).read_text()) for d, p in metas.items()}
    first = next(iter(meta.values()))
    images = first["images"]
    sizes = {k: (int(v[0]), int(v[1])) for k, v in first["sizes"].items()}
    difficulty = None
    if difficulty_dir and (Path(difficulty_dir) / "wider_easy_val.mat").is_file():
        difficulty = wider.read_difficulty_lists(difficulty_dir, images=[wider.image_stem(i) for i in images])
    labeled = LabeledImages(name, images, gt, {d: read_detections(p) for d, p in tables.items()}, sizes,
                            {f"detect_{d}": m["seconds"] for d, m in meta.items()}, difficulty)
    result = evaluate_images(labeled, merge_cfg, image_dir, blur_cfg)
    result["sweep"] = _sweep(lambda thr: _image_figures(labeled, merge_cfg, thr), merge_cfg, set(tables))
    write_json(out, clean({"set": name, "kind": "images", **result}))


def _image_figures(labeled: LabeledImages, merge_cfg: dict[str, Any], thr: dict[str, float]) -> dict[str, Any]:
    from btb.evaluate import image_method_regions

    regions, _ = image_method_regions(labeled, merge_cfg, thr, only=SWEEP_METHODS)
    out = {}
    for m in (m for m in SWEEP_METHODS if m in regions):
        s = wider.score_images(labeled.gt, regions[m], labeled.sizes)
        out[m] = {"recall_at_0_8": s["all"]["recall_at_0_8"], "recall_at_0_8_min_side": s["min_side"]["recall_at_0_8"],
                  "blur_area_ratio": s["all"]["blur_area_ratio"],
                  "share_regions_touching_no_face": s["share_regions_touching_no_face"]}
    return out


def _sweep(figures: Any, merge_cfg: dict[str, Any], detectors: set[str]) -> list[dict[str, Any]]:
    base = dict(merge_cfg["thresholds"])
    rows = []
    for detector, values in SWEEP.items():
        if detector not in detectors:
            continue
        for v in values:
            rows.append({"detector": detector, "threshold": v, **figures({**base, detector: v})})
    return rows


def score_video_set(clips: dict[str, dict[str, str]], merge_cfg: dict[str, Any], out: str) -> None:
    """``clips``: name -> paths of gt, the detection tables (all frames) by detector name (``yunet``,
    ``retinaface``, optionally ``centerface``), frames table, probe and audit records."""
    detectors = [d for d in ("yunet", "retinaface", "centerface") if all(d in p for p in clips.values())]
    labeled = []
    for name, p in sorted(clips.items()):
        probe = json.loads(Path(p["probe"]).read_text())
        seconds = {}
        audit_dir = Path(p["audit_dir"])
        for stage in ("index_frames", "detect_yunet", *(f"detect_{d}_all" for d in detectors[1:])):
            # detectors run one job per chunk (detect_yunet.1of4.json ...): their seconds add up
            recs = [audit_dir / "index_frames.json"] if stage == "index_frames" else sorted(
                audit_dir.glob(f"{stage}.*of*.json"))
            if recs and all(r.is_file() for r in recs):
                seconds[stage.removesuffix("_all")] = sum(json.loads(r.read_text())["seconds"] for r in recs)
        labeled.append(LabeledClip(
            name=name, gt=read_video_gt(p["gt"]),
            tables={d: read_detections(p[d]) for d in detectors},
            n_frames=len(pd.read_csv(p["frames"], sep="\t")), width=int(probe["width"]),
            height=int(probe["height"]), seconds=seconds))
    result = evaluate_videos(labeled, merge_cfg)

    def figures(thr: dict[str, float]) -> dict[str, Any]:
        r = evaluate_videos(labeled, merge_cfg, thr, only=SWEEP_METHODS)
        return {g: {m: {k: r["groups"][g][m][k] for k in ("recall_at_0_8", "exposed_frames", "blur_area_ratio")}
                    for m in SWEEP_METHODS if m in r["methods"]} for g in r["groups"]}

    result["sweep"] = _sweep(figures, merge_cfg, set(detectors))
    write_json(out, clean({"set": "videos", "kind": "videos", **result}))
