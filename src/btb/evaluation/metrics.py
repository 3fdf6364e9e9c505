"""The privacy metric of ``../shared/eval/README.md``, computed exactly, per pixel.

* The blurred pixels of a frame are ``btb.blur.region_mask`` of that frame's regions: the same mask that
  blurring paints (ellipse or box shapes, after merging and enlargement).
* Coverage of a ground-truth face box G = area(G ∩ blurred pixels) / area(G). G may have fractional
  coordinates (the YouTube Faces boxes sit on half pixels): each pixel counts with the area it shares with G,
  so the figure is exact for any box. G is first clipped to the frame; a box with no area left is skipped
  (its coverage is NaN and it is counted in ``skipped_faces``, never as protected nor as exposed).
* A face is protected when coverage >= 0.8; recall = protected / labeled faces (0.5 is reported too).
* An exposed frame has at least one labeled face with coverage < 0.8.
* Blur-area ratio = blurred pixels / ground-truth face area, both summed over the frames that have a
  (scored) labeled face only. Ground truth exists only there, so blur in unlabeled frames (``mil_girl``
  labels every 5th frame) would inflate the ratio without any face area to set against it.
* The labeled clips label one face per frame; blur on the other people in the frame (an audience, a crowd)
  counts in that ratio as cost. So the blurred pixels are also split: ``face_blur_area_ratio`` counts only the
  regions whose box overlaps a labeled face box of their frame (what protecting the labeled face cost), and
  ``off_face_blur_share`` is the share of the blurred pixels that no such region paints.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import pandas as pd

from btb.regions.blur import region_mask
from btb.regions.boxes import iou_matrix

PROTECTED = 0.8
HALF = 0.5
GT_COLUMNS = ["frame_index", "x", "y", "w", "h", "labeled"]


def _axis_weights(start: float, length: float, size: int) -> tuple[int, np.ndarray]:
    """First pixel index and the per-pixel overlap lengths of the interval [start, start+length) ∩ [0, size)."""
    lo, hi = max(0.0, float(start)), min(float(size), float(start) + float(length))
    if hi <= lo:
        return 0, np.zeros(0)
    first, last = math.floor(lo), math.ceil(hi)  # pixels first .. last-1 touch the interval
    edges = np.arange(first, last + 1, dtype=np.float64)
    weights = np.minimum(edges[1:], hi) - np.maximum(edges[:-1], lo)
    return first, weights


def clipped_area(gt_box: Iterable[float], height: int, width: int) -> float:
    """Area of the box ``x, y, w, h`` after clipping to an ``height`` x ``width`` frame."""
    x, y, w, h = (float(v) for v in gt_box)
    if not (w > 0 and h > 0):
        return 0.0
    _, wx = _axis_weights(x, w, width)
    _, wy = _axis_weights(y, h, height)
    return float(wx.sum() * wy.sum())


def coverage(gt_box: Iterable[float], mask: np.ndarray) -> float:
    """Share of the box ``x, y, w, h`` (clipped to the frame) whose pixels are True in ``mask`` (H x W bool).

    NaN when the clipped box has no area (zero or negative size, or wholly outside the frame).
    """
    x, y, w, h = (float(v) for v in gt_box)
    height, width = mask.shape
    if not (w > 0 and h > 0):
        return math.nan
    x0, wx = _axis_weights(x, w, width)
    y0, wy = _axis_weights(y, h, height)
    area = wx.sum() * wy.sum()
    if area <= 0:
        return math.nan
    sub = mask[y0 : y0 + len(wy), x0 : x0 + len(wx)].astype(np.float64)
    return float(wy @ sub @ wx / area)


def face_coverages(gt: pd.DataFrame, regions: pd.DataFrame, height: int, width: int,
                   mask_of: Callable[[int, int, pd.DataFrame], np.ndarray] = region_mask,
                   split: bool = True) -> pd.DataFrame:
    """One row per labeled face: ``frame_index, coverage, gt_area, blurred_area, face_blurred_area``.

    Rows with ``labeled != 1`` are ignored. ``blurred_area`` is the frame's blurred pixel count, repeated on
    each face of that frame (one labeled face per frame in the evaluation clips); ``face_blurred_area`` the
    pixels of the frame's regions whose box overlaps one of its labeled face boxes (the column is left out
    with ``split`` False, which saves the second mask where the split is not reported). ``mask_of(height, width,
    frame_regions)`` gives a frame's blurred pixels: ``region_mask`` (what this pipeline paints) unless
    another tool's painting is scored (``benchmarks/deface_recall.py``).
    """
    faces = gt[gt["labeled"] == 1]
    by_frame = {int(k): g for k, g in regions.groupby("frame_index")} if len(regions) else {}
    boxes_of = {int(k): g[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
                for k, g in faces.groupby("frame_index")} if len(faces) else {}
    masks: dict[int, tuple[np.ndarray, int]] = {}
    rows = []
    for f, x, y, w, h in faces[["frame_index", "x", "y", "w", "h"]].itertuples(index=False):
        f = int(f)
        if f not in masks:
            regs = by_frame.get(f)
            if regs is None:
                masks[f] = (np.zeros((height, width), dtype=bool), 0)
            else:
                mask = mask_of(height, width, regs)
                # regions sharing area with a labeled face box (IoU > 0); all of them: the frame's mask again
                on_face = (iou_matrix(regs[["x", "y", "w", "h"]].to_numpy(dtype=np.float64), boxes_of[f]) > 0
                           ).any(axis=1)
                if not split or not on_face.any():
                    face_px = 0
                elif on_face.all():
                    face_px = int(mask.sum())
                else:
                    face_px = int(mask_of(height, width, regs[on_face]).sum())
                masks[f] = (mask, face_px)
        mask, face_px = masks[f]
        rows.append((f, coverage((x, y, w, h), mask), clipped_area((x, y, w, h), height, width), int(mask.sum()),
                     face_px))
    out = pd.DataFrame(rows, columns=["frame_index", "coverage", "gt_area", "blurred_area",
                                      "face_blurred_area"]).astype(
        {"frame_index": "int64", "coverage": "float64", "gt_area": "float64", "blurred_area": "int64",
         "face_blurred_area": "int64"}
    )
    return out if split else out.drop(columns="face_blurred_area")


def summarise(cov: pd.DataFrame) -> dict[str, Any]:
    """Counts and figures of a ``face_coverages`` table (or several concatenated: pooling is by summing)."""
    scored = cov[cov["coverage"].notna()]
    n = len(scored)
    p8 = int((scored["coverage"] >= PROTECTED).sum())
    p5 = int((scored["coverage"] >= HALF).sum())
    # a frame is counted once (its blurred area, its exposure), however many labeled faces it has
    keys = ["clip", "frame_index"] if "clip" in scored.columns else ["frame_index"]
    frames = scored.drop_duplicates(keys)
    exposed = scored.loc[scored["coverage"] < PROTECTED, keys].drop_duplicates()
    blurred = float(frames["blurred_area"].sum())
    # NaN unless every frame has the split (a table made with split=False, or pooled with one)
    split = frames["face_blurred_area"] if "face_blurred_area" in frames.columns else None
    on_face = float(split.sum()) if split is not None and not split.isna().any() else math.nan
    gt_area = float(scored["gt_area"].sum())
    return {
        "labeled_faces": n,
        "skipped_faces": int(cov["coverage"].isna().sum()),
        "protected_at_0_8": p8,
        "protected_at_0_5": p5,
        "recall_at_0_8": p8 / n if n else math.nan,
        "recall_at_0_5": p5 / n if n else math.nan,
        "exposed_frames": len(exposed),
        "blurred_area": blurred,
        "gt_area": gt_area,
        "blur_area_ratio": blurred / gt_area if gt_area > 0 else math.nan,
        "face_blur_area_ratio": on_face / gt_area if gt_area > 0 else math.nan,
        "off_face_blur_share": 1.0 - on_face / blurred if blurred > 0 else math.nan,
    }


def score_video(gt: pd.DataFrame, regions: pd.DataFrame, height: int, width: int) -> dict[str, Any]:
    """The privacy metric of one video.

    ``gt``: columns ``frame_index, x, y, w, h, labeled`` (only ``labeled == 1`` rows count); ``regions``: a
    region table (``btb.tables.REGION_COLUMNS``). Returns ``labeled_faces``, ``skipped_faces`` (zero area
    after clipping), ``protected_at_0_8``/``_0_5``, ``recall_at_0_8``/``_0_5``, ``exposed_frames`` (frames
    with a labeled face whose coverage < 0.8), ``blurred_area``, ``gt_area``, ``blur_area_ratio`` (blurred
    pixels over labeled frames only / ground-truth face area), ``face_blur_area_ratio`` (the same, counting only
    regions that overlap a labeled face) and ``off_face_blur_share``; see the module docstring.
    """
    return summarise(face_coverages(gt, regions, height, width))


def pool(covs: dict[str, pd.DataFrame]) -> dict[str, Any]:
    """Pooled figures over several clips' ``face_coverages`` tables (keyed by clip name)."""
    parts = [c.assign(clip=name) for name, c in covs.items()]
    if not parts:
        raise ValueError("nothing to pool")
    return summarise(pd.concat(parts, ignore_index=True))
