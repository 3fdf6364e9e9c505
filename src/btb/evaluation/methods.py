"""Evaluation: the pipeline's own detection tables and merge rules scored against ground truth.

The methods (``SPECS``) are scored from the same cached detector tables, so another merge rule or threshold
re-scores without re-detecting: ``yunet`` and ``retinaface`` alone, ``union``, ``cascade`` (RetinaFace's table
restricted to the frames the cascade rule selects: the detector is deterministic per frame, so this is what a
cascade run produces) and ``intersection``; with CenterFace's table also ``centerface`` alone and its
combinations (``union3``, ``cascade3``, ``cascade3_cf_all``, ``intersection3``, ``union_yc``, ``cascade_yc``).
Labeled images (WIDER FACE layout) and labeled videos (``video.mp4`` + ``video_gt.csv``) are supported;
metric definitions are those of ``btb.evaluation.metrics`` and ``btb.evaluation.wider``.
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from btb.evaluation import wider, wider_ap
from btb.evaluation.metrics import GT_COLUMNS, face_coverages, pool, summarise
from btb.regions.blur import BlurParams, blur_frame
from btb.regions.cascade import CascadeRule, select_uncertain_frames
from btb.regions.merge import MergeParams, merge_detections, temporal_params


@dataclass(frozen=True)
class MethodSpec:
    """A way to combine detectors: merge ``mode``; detectors run on every frame (``every``) and on the frames
    YuNet leaves uncertain only (``selected``, the cascade's second stage)."""

    mode: str
    every: tuple[str, ...]
    selected: tuple[str, ...] = ()
    about: str = ""

    @property
    def detectors(self) -> tuple[str, ...]:
        return self.every + self.selected


SPECS: dict[str, MethodSpec] = {
    "yunet": MethodSpec("union", ("yunet",), about="YuNet alone"),
    "retinaface": MethodSpec("union", ("retinaface",), about="RetinaFace alone"),
    "union": MethodSpec("union", ("yunet", "retinaface"), about="YuNet + RetinaFace, every frame"),
    "cascade": MethodSpec("cascade", ("yunet",), ("retinaface",),
                          about="YuNet; RetinaFace on the frames YuNet leaves uncertain"),
    "intersection": MethodSpec("intersection", ("yunet", "retinaface"), about="boxes both detectors find"),
    "centerface": MethodSpec("union", ("centerface",), about="CenterFace alone"),
    "union3": MethodSpec("union", ("yunet", "retinaface", "centerface"), about="all three, every frame"),
    "cascade3": MethodSpec("cascade", ("yunet",), ("retinaface", "centerface"),
                           about="YuNet; RetinaFace and CenterFace on the frames YuNet leaves uncertain"),
    "cascade3_cf_all": MethodSpec("cascade", ("yunet", "centerface"), ("retinaface",),
                                  about="YuNet and CenterFace on every frame; RetinaFace on the uncertain ones"),
    "intersection3": MethodSpec("intersection", ("yunet", "retinaface", "centerface"),
                                about="boxes at least two of the three find"),
    "union_yc": MethodSpec("union", ("yunet", "centerface"), about="YuNet + CenterFace, every frame"),
    "cascade_yc": MethodSpec("cascade", ("yunet",), ("centerface",),
                             about="YuNet; CenterFace on the frames YuNet leaves uncertain"),
    "pose": MethodSpec("union", ("pose",), about="BlazePose head boxes alone"),
    "union_pose": MethodSpec("union", ("yunet", "retinaface", "pose"),
                             about="YuNet + RetinaFace + BlazePose heads, every frame (the default)"),
    "yunet_pose": MethodSpec("union", ("yunet", "pose"),
                             about="YuNet + BlazePose heads, every frame (no RetinaFace: a speed trade-off)"),
    "retinaface_pose": MethodSpec("union", ("retinaface", "pose"),
                                  about="RetinaFace + BlazePose heads, every frame (no YuNet)"),
    "cascade_pose": MethodSpec("cascade", ("yunet", "pose"), ("retinaface",),
                               about="YuNet and BlazePose heads on every frame; RetinaFace on the uncertain ones"),
}


def methods_for(detectors: Iterable[str]) -> list[str]:
    """The methods (in ``SPECS`` order) whose detectors all have a table."""
    have = set(detectors)
    return [m for m, spec in SPECS.items() if set(spec.detectors) <= have]


def method_regions(tables: Mapping[str, pd.DataFrame], n_frames: int, width: int, height: int,
                   merge_cfg: Mapping[str, Any], thresholds: Mapping[str, float] | None = None,
                   neighbours: int | None = None, methods: Iterable[str] | None = None
                   ) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Region tables of the methods (default: every method the tables allow) for one video (or one image as
    a 1-frame video), and the cascade's frame selection."""
    thr = dict(thresholds or merge_cfg["thresholds"])
    rule = CascadeRule(float(thr["yunet"]), float(merge_cfg["cascade"]["uncertain_floor"]),
                       int(merge_cfg["cascade"]["neighbours"] if neighbours is None else neighbours))
    selection = select_uncertain_frames(tables["yunet"], n_frames, rule)
    chosen = selection["frame_index"]
    temporal = temporal_params(dict(merge_cfg)) if n_frames > 1 else None
    regions = {}
    for m in methods_for(tables) if methods is None else methods:
        spec = SPECS[m]
        use = {d: tables[d] for d in spec.every}
        use |= {d: tables[d][tables[d]["frame_index"].isin(chosen)] for d in spec.selected}
        regions[m] = merge_detections(use, MergeParams.from_config(merge_cfg, spec.mode, thr), width, height, temporal,
                                      n_frames)
    return regions, selection


# ------------------------------------------------------------------------------------------------ videos
@dataclass(frozen=True)
class LabeledClip:
    name: str
    gt: pd.DataFrame
    tables: dict[str, pd.DataFrame]
    n_frames: int
    width: int
    height: int
    seconds: dict[str, float]  # stage -> seconds for the whole clip


def read_video_gt(path: str | Path) -> pd.DataFrame:
    gt = pd.read_csv(path)
    missing = [c for c in GT_COLUMNS if c not in gt.columns]
    if missing:
        raise ValueError(f"{path}: ground truth lacks columns {missing}")
    return gt[GT_COLUMNS]


def clip_group(name: str) -> str:
    """Clips sharing a name prefix (``ytf_Aaron``, ``ytf_Alek``) are pooled as ``ytf_*``."""
    return f"{name.split('_', 1)[0]}_*" if "_" in name else name


def evaluate_videos(clips: list[LabeledClip], merge_cfg: Mapping[str, Any],
                    thresholds: Mapping[str, float] | None = None, only: Iterable[str] | None = None
                    ) -> dict[str, Any]:
    """Per clip, per group (shared prefix) and pooled figures of every method (or those of ``only`` that the
    tables allow), plus per-frame timelines."""
    per_clip: dict[str, dict[str, Any]] = {}
    methods = methods_for(set.intersection(*(set(c.tables) for c in clips))) if clips else []
    if only is not None:
        methods = [m for m in methods if m in set(only)]
    coverages: dict[str, dict[str, pd.DataFrame]] = {m: {} for m in methods}
    selected: dict[str, int] = {}
    for clip in clips:
        regions, sel = method_regions(clip.tables, clip.n_frames, clip.width, clip.height, merge_cfg, thresholds,
                                      methods=methods)
        selected[clip.name] = len(sel)
        per_clip[clip.name] = {"frames": clip.n_frames, "width": clip.width, "height": clip.height,
                               "cascade_frames": len(sel), "seconds": clip.seconds, "methods": {}}
        for m in methods:
            cov = face_coverages(clip.gt, regions[m], clip.height, clip.width)
            coverages[m][clip.name] = cov
            per_clip[clip.name]["methods"][m] = {
                **summarise(cov),
                "frames_with_region": int(regions[m]["frame_index"].nunique()),
                "timeline": cov[["frame_index", "coverage"]].round(4).values.tolist(),
            }
    groups: dict[str, list[str]] = {}
    for clip in clips:
        groups.setdefault(clip_group(clip.name), []).append(clip.name)
    pooled = {
        g: {m: pool({c: coverages[m][c] for c in names}) for m in methods} | {
            "clips": names,
            "frames": sum(per_clip[c]["frames"] for c in names),
            "cascade_frames": sum(selected[c] for c in names)}
        for g, names in sorted(groups.items())
    }
    total_frames = sum(c.n_frames for c in clips)
    stage_seconds: dict[str, float] = {}
    for clip in clips:
        for stage, s in clip.seconds.items():
            stage_seconds[stage] = stage_seconds.get(stage, 0.0) + s
    return {
        "clips": per_clip,
        "groups": pooled,
        "all": {m: pool(coverages[m]) for m in methods} if clips else {},
        "methods": methods,
        "frames": total_frames,
        "cascade_frames": sum(selected.values()),
        "seconds_per_frame": {k: v / total_frames for k, v in stage_seconds.items()} if total_frames else {},
    }


# ------------------------------------------------------------------------------------------------ images
@dataclass(frozen=True)
class LabeledImages:
    name: str
    images: list[str]  # names relative to the image folder, as in the ground truth
    gt: dict[str, pd.DataFrame]
    tables: dict[str, pd.DataFrame]  # detector -> table whose frame_index is the index into ``images``
    sizes: dict[str, tuple[int, int]]  # image -> (height, width)
    seconds: dict[str, float]
    difficulty: dict[str, dict[str, np.ndarray]] | None = None


def image_method_regions(s: LabeledImages, merge_cfg: Mapping[str, Any],
                         thresholds: Mapping[str, float] | None = None, only: Iterable[str] | None = None
                         ) -> tuple[dict[str, dict[str, pd.DataFrame]], int]:
    """Per method (every one the tables allow, or those of ``only``), per image, the region table
    (frame_index 0); and how many images cascade sent on."""
    by_image = {d: {int(k): g.assign(frame_index=0) for k, g in t.groupby("frame_index")}
                for d, t in s.tables.items()}
    empty = {d: t.iloc[0:0] for d, t in s.tables.items()}
    methods = [m for m in methods_for(s.tables) if only is None or m in set(only)]
    out: dict[str, dict[str, pd.DataFrame]] = {m: {} for m in methods}
    sent = 0
    for i, name in enumerate(s.images):
        h, w = s.sizes[name]
        tables = {d: by_image[d].get(i, empty[d]) for d in s.tables}
        regions, sel = method_regions(tables, 1, w, h, merge_cfg, thresholds, neighbours=0, methods=methods)
        sent += len(sel)
        for m in methods:
            out[m][name] = regions[m]
    return out, sent


def _predictions(s: LabeledImages, detector: str) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    t = s.tables[detector]
    groups = {int(k): g for k, g in t.groupby("frame_index")}
    preds = {}
    for i, name in enumerate(s.images):
        g = groups.get(i)
        if g is None:
            preds[name] = (np.zeros((0, 4)), np.zeros(0))
        else:
            preds[name] = (g[["x", "y", "w", "h"]].to_numpy(), g["score"].to_numpy())
    return preds


def evaluate_images(s: LabeledImages, merge_cfg: Mapping[str, Any], image_dir: str | Path | None = None,
                    blur_cfg: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Privacy metric, size bands, seed accuracy per method; WIDER AP and PR curves per detector; timings.

    With ``image_dir`` and ``blur_cfg`` the blur of the union regions is timed too (images are blurred in
    memory and discarded).
    """
    t0 = time.perf_counter()
    regions, sent = image_method_regions(s, merge_cfg)
    merge_seconds = time.perf_counter() - t0
    methods: dict[str, Any] = {}
    for m in regions:
        scored = wider.score_images(s.gt, regions[m], s.sizes)
        faces = scored.pop("faces")
        bands = wider.recall_by_size(faces)
        counts = {name: len(regions[m][name]) for name in s.images}
        methods[m] = {**scored, "recall_by_size": bands.to_dict("records"),
                      "seed_accuracy": wider.seed_accuracy(counts, s.gt)}
    ap: dict[str, Any] = {}
    for d in s.tables:
        preds = _predictions(s, d)
        if s.difficulty:
            for setting, (a, p, r) in wider_ap.wider_ap_settings(preds, s.gt, s.difficulty).items():
                ap.setdefault(d, {})[setting] = {"ap": a, "precision": _curve(p), "recall": _curve(r)}
        else:
            keep = {name: np.arange(1, len(s.gt[name]) + 1) for name in s.images}
            a, p, r = wider_ap.wider_ap(preds, s.gt, keep)
            ap.setdefault(d, {})["all"] = {"ap": a, "precision": _curve(p), "recall": _curve(r)}
    seconds = dict(s.seconds)
    seconds["merge"] = merge_seconds
    if image_dir is not None and blur_cfg is not None:
        from btb.video.image import read_image

        bp = BlurParams(method=blur_cfg["method"], detail=blur_cfg["detail"])
        spent = 0.0
        for name in s.images:
            img = read_image(Path(image_dir) / name)
            t = time.perf_counter()
            blur_frame(img, regions["union"][name], bp)
            spent += time.perf_counter() - t
        seconds["blur_union"] = spent
    n = len(s.images)
    return {"images": n, "faces": int(sum(int(wider.valid_faces(g).sum()) for g in s.gt.values())),
            "cascade_images": sent, "methods": methods, "ap": ap, "seconds": seconds,
            "seconds_per_image": {k: v / n for k, v in seconds.items()} if n else {}}


def _curve(a: np.ndarray, points: int = 100) -> list[float | None]:
    """A PR curve thinned to ``points`` values for the JSON report (NaN -> None)."""
    idx = np.linspace(0, len(a) - 1, min(points, len(a))).round().astype(int)
    return [None if math.isnan(float(v)) else round(float(v), 5) for v in np.asarray(a)[idx]]
