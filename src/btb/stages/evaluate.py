"""Evaluation stages of the workflow's ``evaluate`` target (environment ``envs/evaluate.yaml``): detection on
labeled image sets, and the scoring of image sets and labeled clips from the cached detection tables."""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

from btb.audit.io import write_json
from btb.detect.factory import make_detector
from btb.detect.registry import DETECTORS
from btb.evaluation import wider
from btb.evaluation.methods import (
    LabeledClip,
    LabeledImages,
    evaluate_images,
    evaluate_videos,
    image_method_regions,
    read_video_gt,
)
from btb.regions.tables import concat_detections, detections_frame, read_detections, write_detections
from btb.video.frames import read_frame_table
from btb.video.image import read_image

SWEEP = {name: list(spec.sweep) for name, spec in DETECTORS.items()}
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


def load_image_set(name: str, gt_file: str, difficulty_dir: str, tables: dict[str, str], metas: dict[str, str]
                   ) -> LabeledImages:
    """An image set with its cached detection tables (``tables``/``metas``: detector -> file)."""
    gt = wider.read_wider_gt(gt_file)
    meta = {d: json.loads(Path(p).read_text()) for d, p in metas.items()}
    first = next(iter(meta.values()))
    images = first["images"]
    sizes = {k: (int(v[0]), int(v[1])) for k, v in first["sizes"].items()}
    difficulty = None
    if difficulty_dir and (Path(difficulty_dir) / "wider_easy_val.mat").is_file():
        difficulty = wider.read_difficulty_lists(difficulty_dir, images=[wider.image_stem(i) for i in images])
    return LabeledImages(name, images, gt, {d: read_detections(p) for d, p in tables.items()}, sizes,
                         {f"detect_{d}": m["seconds"] for d, m in meta.items()}, difficulty)


def score_image_set(name: str, image_dir: str, gt_file: str, difficulty_dir: str, tables: dict[str, str],
                    metas: dict[str, str], merge_cfg: dict[str, Any], blur_cfg: dict[str, Any], out: str) -> None:
    labeled = load_image_set(name, gt_file, difficulty_dir, tables, metas)
    result = evaluate_images(labeled, merge_cfg, image_dir, blur_cfg)
    result["sweep"] = _sweep(lambda thr: image_figures(labeled, merge_cfg, thr), merge_cfg, set(tables))
    write_json(out, clean({"set": name, "kind": "images", **result}))


def image_figures(labeled: LabeledImages, merge_cfg: dict[str, Any], thr: dict[str, float] | None = None,
                  methods: tuple[str, ...] = SWEEP_METHODS) -> dict[str, Any]:
    """Per method: recall@0.8 over all faces and over faces >= 20 px, blur-area ratio, share of regions
    touching no face (``thr``: decision thresholds, default the configuration's)."""
    regions, _ = image_method_regions(labeled, merge_cfg, thr, only=methods)
    out = {}
    for m in (m for m in methods if m in regions):
        s = wider.score_images(labeled.gt, regions[m], labeled.sizes)
        out[m] = {"recall_at_0_8": s["all"]["recall_at_0_8"], "recall_at_0_8_min_side": s["min_side"]["recall_at_0_8"],
                  "blur_area_ratio": s["all"]["blur_area_ratio"],
                  "share_regions_touching_no_face": s["share_regions_touching_no_face"]}
    return out


def _sweep(figures: Any, merge_cfg: dict[str, Any], detectors: set[str]) -> list[dict[str, Any]]:
    base = dict(merge_cfg["thresholds"])
    rows = []
    for detector, values in SWEEP.items():
        if detector not in detectors or detector not in SWEEP_METHODS:  # the head locator is not swept
            continue
        for v in values:
            rows.append({"detector": detector, "threshold": v, **figures({**base, detector: v})})
    return rows


def score_video_set(*, clip_ids: list[str], detectors: list[str], gts: list[str], tables: list[str],
                    frames: list[str], probes: list[str], merge_cfg: dict[str, Any], out: str) -> None:
    """Score labeled clips (workflow ids ``eval-<name>``) from their cached tables: per clip its ground truth,
    frame table and probe (``gts``, ``frames``, ``probes``, in ``clip_ids`` order) and, per detector in
    ``detectors`` order, every clip's detection table of all frames (``tables``, detector-major)."""
    n = len(clip_ids)
    labeled = []
    for i, vid in sorted(enumerate(clip_ids), key=lambda c: c[1]):
        name = vid.removeprefix("eval-")
        probe = json.loads(Path(probes[i]).read_text())
        seconds = {}
        audit_dir = Path(tables[i]).parents[1] / "audit"
        stages = [f"detect_{d}" if DETECTORS[d].first_stage else f"detect_{d}_all" for d in detectors]
        for stage in ("index_frames", *stages):
            # detectors run one job per chunk (detect_yunet.1of4.json ...): their seconds add up; one job per
            # video without chunks (detect_yunet.json)
            recs = [audit_dir / "index_frames.json"] if stage == "index_frames" else sorted(
                audit_dir.glob(f"{stage}.*of*.json")) or [audit_dir / f"{stage}.json"]
            if recs and all(r.is_file() for r in recs):
                seconds[stage.removesuffix("_all")] = sum(json.loads(r.read_text())["seconds"] for r in recs)
        labeled.append(LabeledClip(
            name=name, gt=read_video_gt(gts[i]),
            tables={d: read_detections(tables[k * n + i]) for k, d in enumerate(detectors)},
            n_frames=len(read_frame_table(frames[i])), width=int(probe["width"]),
            height=int(probe["height"]), seconds=seconds))
    result = evaluate_videos(labeled, merge_cfg)

    def figures(thr: dict[str, float]) -> dict[str, Any]:
        r = evaluate_videos(labeled, merge_cfg, thr, only=SWEEP_METHODS)
        return {g: {m: {k: r["groups"][g][m][k] for k in ("recall_at_0_8", "exposed_frames", "blur_area_ratio")}
                    for m in SWEEP_METHODS if m in r["methods"]} for g in r["groups"]}

    result["sweep"] = _sweep(figures, merge_cfg, set(detectors))
    write_json(out, clean({"set": "videos", "kind": "videos", **result}))


def score_review(*, clip_ids: list[str], gts: list[str], regions: list[str], flags: list[str], items: list[str],
                 frames: list[str], probes: list[str], out: str) -> None:
    """Whether verification catches what the pipeline left exposed on the labeled clips (workflow ids
    ``eval-<name>``, run through the whole pipeline): per clip its ground truth, regions, flags, review items,
    frame table and probe, in ``clip_ids`` order (``btb.evaluation.catch``)."""
    import pandas as pd

    from btb.evaluation.catch import exposures, summarise_catch
    from btb.regions.tables import read_regions
    from btb.release.items import frame_seconds

    clips = {}
    for i, vid in sorted(enumerate(clip_ids), key=lambda c: c[1]):
        probe = json.loads(Path(probes[i]).read_text())
        table = read_frame_table(frames[i])
        times = frame_seconds(table)
        fl = pd.read_csv(flags[i], sep="\t")
        it = pd.read_csv(items[i], sep="\t", keep_default_na=False, na_values=[""])
        it["reason"] = it["reason"].fillna("").astype(str)
        rows = exposures(read_video_gt(gts[i]), read_regions(regions[i]), fl, it, times, int(probe["height"]),
                         int(probe["width"]))
        seconds = float(probe.get("duration_s") or (max(times.values()) if times else 0.0))
        clips[vid.removeprefix("eval-")] = summarise_catch(rows, it, seconds)
    total = {k: sum(c[k] for c in clips.values()) for k in ("exposed_frames", "caught_frames", "set_aside_frames",
                                                            "missed_frames", "open_items", "dismissed_items")}
    write_json(out, clean({"set": "review", "kind": "review", "clips": clips, "total": total}))
