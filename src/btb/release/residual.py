"""Residual verification: detect faces again on the de-identified output and flag any not inside a blur region.

Both detectors run on the encoded output at a low threshold (with their downscaled pass). A detection is a
**flag** when less than ``min_covered`` of its box lies inside the frame's blurred pixels (the same mask the
blur painted, ``btb.blur.region_mask``): a face the pipeline did not blur, or blurred only in part. Blurred
faces are seldom found again; what is found inside a region is not a flag.

With ``every`` > 1 (``verify.every``, for throughput on large collections) the detectors run on every
``every``-th output frame only, and every frame is also checked against the detections the pipeline stored for
the *input* (``input_flags_in_frame``, detector name suffixed ``:input``): any stored detection at or above the
verification threshold that the blur does not cover is a flag. The sampled output frames still catch a
pipeline that blurs the wrong frames or places (an offset, a timestamp mix-up); the stored detections catch a
face the merge left out in any frame. What only full verification catches: a face the detectors find on the
output of an unsampled frame but did not find on its input.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from btb.evaluation.metrics import coverage
from btb.regions.blur import region_mask

FLAG_COLUMNS = {"frame_index": "int64", "detector": "string", "score": "float64", "x": "float64",
                "y": "float64", "w": "float64", "h": "float64", "covered": "float64"}


@dataclass(frozen=True)
class ResidualParams:
    """The ``verify`` section of the configuration (defaults in its schema)."""

    thresholds: dict[str, float]  # detector -> score at or above which a detection is considered
    min_covered: float
    every: int  # detect on every n-th output frame (1: all); > 1 adds the stored-detection check

    def __post_init__(self) -> None:
        if not 0 < self.min_covered <= 1:
            raise ValueError("min_covered must be in (0, 1]")
        if self.every < 1:
            raise ValueError("every must be >= 1")

    def detects(self, frame_index: int) -> bool:
        """Whether the detectors run on this output frame."""
        return frame_index % self.every == 0


def empty_flags() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in FLAG_COLUMNS.items()})


def frame_mask(image_shape: tuple[int, ...], regions: pd.DataFrame) -> np.ndarray:
    """The blurred pixels of one frame (``btb.blur.region_mask``; none without regions)."""
    h, w = image_shape[:2]
    return region_mask(h, w, regions) if len(regions) else np.zeros((h, w), dtype=bool)


def _uncovered(frame_index: int, label: str, boxes: np.ndarray, scores: np.ndarray, mask: np.ndarray,
               min_covered: float) -> list[tuple]:
    rows = []
    for box, score in zip(boxes, scores, strict=True):
        cov = coverage(box, mask)
        if not np.isnan(cov) and cov < min_covered:
            rows.append((frame_index, label, float(score), *map(float, box), float(cov)))
    return rows


def flags_in_frame(frame_index: int, image_shape: tuple[int, ...], regions: pd.DataFrame,
                   detections: dict[str, Any], params: ResidualParams, mask: np.ndarray | None = None
                   ) -> list[tuple]:
    """Flags of one frame: ``detections`` maps detector name -> RawDetections found on the output frame.
    ``mask``: the frame's blurred pixels when already computed (``frame_mask``)."""
    mask = frame_mask(image_shape, regions) if mask is None else mask
    rows = []
    for name, d in detections.items():
        keep = d.scores >= params.thresholds[name]
        rows += _uncovered(frame_index, name, d.boxes[keep], d.scores[keep], mask, params.min_covered)
    return rows


def input_flags_in_frame(frame_index: int, image_shape: tuple[int, ...], regions: pd.DataFrame,
                         stored: dict[str, pd.DataFrame], params: ResidualParams, mask: np.ndarray | None = None
                         ) -> list[tuple]:
    """Flags of one frame from the detections stored for the input (``stored``: detector -> that frame's rows of
    its detection table, output-frame pixels), named ``<detector>:input``. The mask is only computed (unless
    given) when a stored detection reaches its threshold."""
    rows = []
    for name, d in stored.items():
        d = d[d["score"] >= params.thresholds[name]]
        if d.empty:
            continue
        mask = frame_mask(image_shape, regions) if mask is None else mask
        rows += _uncovered(frame_index, f"{name}:input", d[["x", "y", "w", "h"]].to_numpy(dtype=np.float64),
                           d["score"].to_numpy(), mask, params.min_covered)
    return rows


def flags_table(rows: Iterable[tuple]) -> pd.DataFrame:
    rows = list(rows)
    if not rows:
        return empty_flags()
    return pd.DataFrame(rows, columns=list(FLAG_COLUMNS)).astype(FLAG_COLUMNS)


def verdict(flags: pd.DataFrame, frames: int, frames_detected: int | None = None, every: int = 1
            ) -> dict[str, Any]:
    """The verification verdict recorded in the manifest: ``pass`` with no flag, else ``needs_review``.
    ``frames_detected``: output frames the detectors ran on (default: all ``frames``)."""
    return {
        "verdict": "pass" if flags.empty else "needs_review",
        "flags": len(flags),
        "frames_checked": frames,
        "frames_detected": frames if frames_detected is None else frames_detected,
        "every": every,
        "frames_flagged": int(flags["frame_index"].nunique()) if len(flags) else 0,
        "flagged_frames": sorted(int(f) for f in flags["frame_index"].unique())[:1000],
        "by_detector": {str(k): int(v) for k, v in flags["detector"].value_counts().items()},
        "max_score": float(flags["score"].max()) if len(flags) else None,
    }


def verify_frames(frames: Iterable[tuple[int, np.ndarray]], regions: pd.DataFrame, detectors: dict[str, Any],
                  params: ResidualParams, stored: dict[str, dict[int, pd.DataFrame]] | None = None
                  ) -> tuple[pd.DataFrame, int, int]:
    """Residual verification of a de-identified output: (flags, frames checked, frames the detectors ran on).

    ``frames``: (frame index, BGR pixels) of the output; ``regions``: its region table; ``detectors``: name ->
    detector (``detect(image) -> RawDetections``); ``stored``: with ``params.every`` > 1, detector -> that
    detector's stored input detections by frame, checked on every frame."""
    by_frame = {int(k): g for k, g in regions.groupby("frame_index")}
    empty = regions.iloc[0:0]
    rows: list[tuple] = []
    n = detected = 0
    for index, image in frames:
        frame_regions = by_frame.get(index, empty)
        mask = None
        if params.detects(index):
            mask = frame_mask(image.shape, frame_regions)
            found = {name: d.detect(image) for name, d in detectors.items()}
            rows += flags_in_frame(index, image.shape, frame_regions, found, params, mask)
            detected += 1
        if stored:  # the mask is computed once per frame, and only where it is needed
            rows += input_flags_in_frame(index, image.shape, frame_regions,
                                         {k: v[index] for k, v in stored.items() if index in v}, params, mask)
        n += 1
    return flags_table(rows), n, detected
