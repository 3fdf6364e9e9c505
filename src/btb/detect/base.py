"""What every detector shares: the result type and the multi-scale (downscaled extra pass) wrapper."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import cv2
import numpy as np

from btb.regions.boxes import nms


@dataclass(frozen=True)
class RawDetections:
    """Detections in one image: boxes (N,4) x,y,w,h; scores (N,); landmarks (N,10); pass scale (N,)."""

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray
    scale: np.ndarray

    @staticmethod
    def empty() -> RawDetections:
        return RawDetections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 10)), np.zeros(0))

    def __len__(self) -> int:
        return len(self.scores)

    def take(self, idx: np.ndarray) -> RawDetections:
        return RawDetections(self.boxes[idx], self.scores[idx], self.landmarks[idx], self.scale[idx])

    @staticmethod
    def concat(parts: list[RawDetections]) -> RawDetections:
        parts = [p for p in parts if len(p)]
        if not parts:
            return RawDetections.empty()
        return RawDetections(
            np.concatenate([p.boxes for p in parts]),
            np.concatenate([p.scores for p in parts]),
            np.concatenate([p.landmarks for p in parts]),
            np.concatenate([p.scale for p in parts]),
        )


def pass_scales(width: int, height: int, downscaled_long_side: int) -> list[float]:
    """Scales at which to run a detector on a frame: 1.0, plus a downscaled pass for large frames.

    Detectors find faces up to a few hundred pixels; a face that fills a large frame is only found when the
    frame is shrunk. The extra pass resizes the frame so its long side is ``downscaled_long_side``; it is
    added when the frame's long side is at least twice that.
    """
    scales = [1.0]
    long_side = max(width, height)
    if downscaled_long_side and long_side >= 2 * downscaled_long_side:
        scales.append(downscaled_long_side / long_side)
    return scales


def detect_multiscale(
    detect_once: Callable[[np.ndarray], RawDetections],
    image: np.ndarray,
    scales: list[float],
    nms_iou: float,
) -> RawDetections:
    """Run ``detect_once`` at each scale, map boxes back to full-frame pixels, and suppress duplicates."""
    parts = []
    h, w = image.shape[:2]
    for s in scales:
        if s == 1.0:
            img = image
        else:
            img = cv2.resize(image, (max(1, round(w * s)), max(1, round(h * s))), interpolation=cv2.INTER_AREA)
        d = detect_once(img)
        if len(d) == 0:
            continue
        sx, sy = w / img.shape[1], h / img.shape[0]
        boxes = d.boxes * np.array([sx, sy, sx, sy])
        lms = d.landmarks * np.tile([sx, sy], 5)
        parts.append(RawDetections(boxes, d.scores, lms, np.full(len(d), s)))
    merged = RawDetections.concat(parts)
    if len(scales) > 1 and len(merged) > 1:
        merged = merged.take(nms(merged.boxes, merged.scores, nms_iou))
    return merged
