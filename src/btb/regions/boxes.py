"""Box geometry as pure, vectorised functions.

Boxes are float arrays of shape (N, 4) in ``x, y, w, h`` pixel coordinates (top-left corner, size).
"""

from __future__ import annotations

import numpy as np

Boxes = np.ndarray


def as_boxes(a: object) -> Boxes:
    """Return ``a`` as a float64 (N, 4) array; an empty input gives shape (0, 4)."""
    arr = np.asarray(a, dtype=np.float64)
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise ValueError(f"boxes must have shape (N, 4), got {arr.shape}")
    return arr


def to_xyxy(b: Boxes) -> Boxes:
    b = as_boxes(b)
    return np.column_stack([b[:, 0], b[:, 1], b[:, 0] + b[:, 2], b[:, 1] + b[:, 3]])


def from_xyxy(b: Boxes) -> Boxes:
    b = as_boxes(b)
    return np.column_stack([b[:, 0], b[:, 1], b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]])


def iou_matrix(a: Boxes, b: Boxes) -> np.ndarray:
    """Pairwise intersection-over-union, shape (len(a), len(b))."""
    A, B = to_xyxy(a), to_xyxy(b)
    if len(A) == 0 or len(B) == 0:
        return np.zeros((len(A), len(B)))
    ix1 = np.maximum(A[:, None, 0], B[None, :, 0])
    iy1 = np.maximum(A[:, None, 1], B[None, :, 1])
    ix2 = np.minimum(A[:, None, 2], B[None, :, 2])
    iy2 = np.minimum(A[:, None, 3], B[None, :, 3])
    inter = np.clip(ix2 - ix1, 0, None) * np.clip(iy2 - iy1, 0, None)
    area_a = (A[:, 2] - A[:, 0]) * (A[:, 3] - A[:, 1])
    area_b = (B[:, 2] - B[:, 0]) * (B[:, 3] - B[:, 1])
    union = area_a[:, None] + area_b[None, :] - inter
    return np.where(union > 0, inter / np.maximum(union, 1e-12), 0.0)


def centres_inside(a: Boxes, b: Boxes) -> np.ndarray:
    """(len(a), len(b)): whether the centre of each box of ``a`` lies inside each box of ``b`` (edges
    included)."""
    A, B = as_boxes(a), to_xyxy(b)
    c = A[:, :2] + A[:, 2:] / 2
    return ((c[:, None, 0] >= B[None, :, 0]) & (c[:, None, 0] <= B[None, :, 2])
            & (c[:, None, 1] >= B[None, :, 1]) & (c[:, None, 1] <= B[None, :, 3]))


def nms(boxes: Boxes, scores: np.ndarray, iou_threshold: float) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression, highest score first."""
    boxes = as_boxes(boxes)
    order = np.argsort(-np.asarray(scores, dtype=np.float64), kind="stable")
    keep: list[int] = []
    ious = iou_matrix(boxes, boxes)
    suppressed = np.zeros(len(boxes), dtype=bool)
    for i in order:
        if suppressed[i]:
            continue
        keep.append(int(i))
        suppressed |= ious[i] > iou_threshold
    return np.asarray(keep, dtype=np.int64)


def scale_about_centre(boxes: Boxes, factor: float | np.ndarray) -> Boxes:
    """Enlarge (factor > 1) or shrink each box about its centre; ``factor`` is one number or one per box."""
    b = as_boxes(boxes)
    cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
    w, h = b[:, 2] * factor, b[:, 3] * factor
    return np.column_stack([cx - w / 2, cy - h / 2, w, h])


def clip_to_frame(boxes: Boxes, width: int, height: int) -> Boxes:
    """Clip boxes to the frame; boxes wholly outside get zero size."""
    xyxy = to_xyxy(boxes)
    xyxy[:, [0, 2]] = np.clip(xyxy[:, [0, 2]], 0, width)
    xyxy[:, [1, 3]] = np.clip(xyxy[:, [1, 3]], 0, height)
    return from_xyxy(xyxy)


def to_int_pixels(boxes: Boxes, width: int, height: int) -> np.ndarray:
    """Integer pixel boxes that contain the float boxes (floor of start, ceil of end), clipped to the frame."""
    xyxy = to_xyxy(boxes)
    x1 = np.clip(np.floor(xyxy[:, 0]), 0, width).astype(np.int64)
    y1 = np.clip(np.floor(xyxy[:, 1]), 0, height).astype(np.int64)
    x2 = np.clip(np.ceil(xyxy[:, 2]), 0, width).astype(np.int64)
    y2 = np.clip(np.ceil(xyxy[:, 3]), 0, height).astype(np.int64)
    return np.column_stack([x1, y1, x2 - x1, y2 - y1])
