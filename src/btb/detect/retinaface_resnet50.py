"""RetinaFace ResNet-50 (the ``retina-face`` package's network, converted to ONNX at staging) on onnxruntime.

The graph takes float32 RGB 0-255 NHWC of any size and returns, for each stride (32, 16, 8), the face
probabilities of its two anchors per cell (4 channels: background, background, face, face), the box deltas
(8) and the landmark deltas (20). Decoding follows the package's ``RetinaFace.detect_faces``: anchors laid
out row by row, Fast R-CNN box regression with the ``+1`` pixel convention, boxes clipped to the image, then
non-maximum suppression at IoU 0.4 over all strides. As the package does with ``allow_upscaling=False``, a
frame is fed at its own size unless its long side exceeds 1980 pixels, when it is shrunk to that (a 4K frame
then needs the memory of a 1080p one, 0.72 GB, not four times that). Large frames get the same extra
downscaled pass as the MobileNetV2 network.
"""

from __future__ import annotations

import logging

import numpy as np

from btb.detect.base import RawDetections, detect_multiscale, pass_scales
from btb.detect.retinaface import RetinaFaceDetector

log = logging.getLogger(__name__)

NMS_IOU = 0.4
# Candidates kept for suppression, best first (the package keeps all): a network that scores most anchors of
# a 1080p frame above a low floor -- as random weights do -- would otherwise cost tens of seconds a frame and
# the multi-scale merge gigabytes. A real face gives tens of candidates, so only a scene of a hundred faces or
# more can reach it; a warning is logged when it does.
MAX_CANDIDATES = 5000
ANCHORS_PER_CELL = 2
# the two base anchors of each stride (x1, y1, x2, y2), as the package generates them
BASE_ANCHORS: dict[int, np.ndarray] = {
    32: np.array([[-248.0, -248.0, 263.0, 263.0], [-120.0, -120.0, 135.0, 135.0]]),
    16: np.array([[-56.0, -56.0, 71.0, 71.0], [-24.0, -24.0, 39.0, 39.0]]),
    8: np.array([[-8.0, -8.0, 23.0, 23.0], [0.0, 0.0, 15.0, 15.0]]),
}
MAX_LONG_SIDE = 1980  # the package's largest input side (retinaface.commons.preprocess)
CHANNELS = {"scores": 2 * ANCHORS_PER_CELL, "boxes": 4 * ANCHORS_PER_CELL, "landmarks": 10 * ANCHORS_PER_CELL}


def anchors(rows: int, cols: int, stride: int) -> np.ndarray:
    """The anchors of a ``rows`` x ``cols`` output map, ordered (row, column, anchor), as x1, y1, x2, y2."""
    ys, xs = np.mgrid[0:rows, 0:cols].astype(np.float64) * stride
    shifts = np.stack([xs, ys, xs, ys], axis=-1)  # rows x cols x 4
    return (shifts[:, :, None, :] + BASE_ANCHORS[stride][None, None, :, :]).reshape(-1, 4)


def decode_boxes(anchor: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Box deltas (dx, dy, dw, dh) on anchors, with the ``+1`` pixel widths of the network's training code."""
    widths = anchor[:, 2] - anchor[:, 0] + 1.0
    heights = anchor[:, 3] - anchor[:, 1] + 1.0
    cx = anchor[:, 0] + 0.5 * (widths - 1.0)
    cy = anchor[:, 1] + 0.5 * (heights - 1.0)
    pcx = deltas[:, 0] * widths + cx
    pcy = deltas[:, 1] * heights + cy
    pw = np.exp(deltas[:, 2]) * widths
    ph = np.exp(deltas[:, 3]) * heights
    return np.column_stack([pcx - 0.5 * (pw - 1.0), pcy - 0.5 * (ph - 1.0),
                            pcx + 0.5 * (pw - 1.0), pcy + 0.5 * (ph - 1.0)])


def decode_landmarks(anchor: np.ndarray, deltas: np.ndarray) -> np.ndarray:
    """Landmark deltas (N, 5, 2) on anchors, as (N, 10) x, y pairs."""
    widths = anchor[:, 2] - anchor[:, 0] + 1.0
    heights = anchor[:, 3] - anchor[:, 1] + 1.0
    cx = anchor[:, 0] + 0.5 * (widths - 1.0)
    cy = anchor[:, 1] + 0.5 * (heights - 1.0)
    x = deltas[:, :, 0] * widths[:, None] + cx[:, None]
    y = deltas[:, :, 1] * heights[:, None] + cy[:, None]
    return np.stack([x, y], axis=-1).reshape(-1, 10)


def nms_plus_one(xyxy: np.ndarray, scores: np.ndarray, iou: float) -> np.ndarray:
    """Greedy non-maximum suppression in the package's convention: areas with ``+1``, equal scores in the order
    the package's ``argsort()[::-1]`` gives them, a box suppressed when its overlap is at least ``iou``."""
    order = scores.argsort()[::-1]
    x1, y1, x2, y2 = (xyxy[:, i] for i in range(4))
    areas = (x2 - x1 + 1.0) * (y2 - y1 + 1.0)
    keep: list[int] = []
    while order.size:
        i = int(order[0])
        keep.append(i)
        rest = order[1:]
        w = np.maximum(0.0, np.minimum(x2[i], x2[rest]) - np.maximum(x1[i], x1[rest]) + 1.0)
        h = np.maximum(0.0, np.minimum(y2[i], y2[rest]) - np.maximum(y1[i], y1[rest]) + 1.0)
        inter = w * h
        order = rest[inter / (areas[i] + areas[rest] - inter) < iou]
    return np.asarray(keep, dtype=np.int64)


def sort_outputs(outputs: list[np.ndarray]) -> dict[int, dict[str, np.ndarray]]:
    """The nine output maps by stride and kind, told apart by their channel count and size (the largest map
    is stride 8), whatever order the converted graph lists them in."""
    by_kind: dict[str, list[np.ndarray]] = {kind: [] for kind in CHANNELS}
    for out in outputs:
        kinds = [kind for kind, c in CHANNELS.items() if out.ndim == 4 and out.shape[3] == c]
        if len(kinds) != 1:
            raise ValueError(f"unexpected RetinaFace ResNet-50 output of shape {out.shape}")
        by_kind[kinds[0]].append(out)
    if any(len(maps) != len(BASE_ANCHORS) for maps in by_kind.values()):
        raise ValueError(f"RetinaFace ResNet-50 graph has {len(outputs)} outputs, expected "
                         f"{len(CHANNELS) * len(BASE_ANCHORS)}")
    sorted_maps: dict[int, dict[str, np.ndarray]] = {s: {} for s in BASE_ANCHORS}
    for kind, maps in by_kind.items():
        for stride, out in zip(sorted(BASE_ANCHORS), sorted(maps, key=lambda m: -m.shape[1] * m.shape[2]),
                               strict=True):
            sorted_maps[stride][kind] = out
    return sorted_maps


def decode(outputs: list[np.ndarray], height: int, width: int, score_floor: float) -> RawDetections:
    """Faces scoring at least ``score_floor`` in one image's network outputs (batch of one), after NMS."""
    boxes, scores, landmarks = [], [], []
    for stride, maps in sort_outputs(outputs).items():
        rows, cols = maps["boxes"].shape[1:3]
        anchor = anchors(rows, cols, stride)
        score = maps["scores"][0, :, :, ANCHORS_PER_CELL:].reshape(-1).astype(np.float32)
        keep = np.flatnonzero(score >= score_floor)
        if keep.size == 0:
            continue
        xyxy = decode_boxes(anchor[keep], maps["boxes"][0].reshape(-1, 4)[keep].astype(np.float64))
        xyxy[:, 0::2] = np.clip(xyxy[:, 0::2], 0, width - 1)
        xyxy[:, 1::2] = np.clip(xyxy[:, 1::2], 0, height - 1)
        boxes.append(xyxy)
        scores.append(score[keep])
        landmarks.append(decode_landmarks(anchor[keep],
                                          maps["landmarks"][0].reshape(-1, 5, 2)[keep].astype(np.float64)))
    if not boxes:
        return RawDetections.empty()
    xyxy, score, lms = np.concatenate(boxes), np.concatenate(scores), np.concatenate(landmarks)
    # sorted by score, then suppressed (which sorts again): equal float32 scores fall in the package's order
    order = score.argsort()[::-1]
    if len(order) > MAX_CANDIDATES:
        log.warning("RetinaFace ResNet-50: %d candidates above the score floor %.3g in a %dx%d image; the best %d "
                    "are kept (the lowest kept score is %.3g)", len(order), score_floor, width, height,
                    MAX_CANDIDATES, float(score[order[MAX_CANDIDATES - 1]]))
        order = order[:MAX_CANDIDATES]
    xyxy, score, lms = xyxy[order], score[order], lms[order]
    keep = nms_plus_one(xyxy, score, NMS_IOU)
    xyxy, score, lms = xyxy[keep], score[keep].astype(np.float64), lms[keep]
    xywh = np.column_stack([xyxy[:, 0], xyxy[:, 1], xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]])
    return RawDetections(xywh, score, lms, np.ones(len(score)))


class RetinaFaceResNet50Detector(RetinaFaceDetector):
    """The session and options of the MobileNetV2 detector; its own network input, decoding and sizes."""

    label = "RetinaFace ResNet-50"

    def run_network(self, image: np.ndarray) -> list[np.ndarray]:
        """The nine raw output maps of one BGR image."""
        x = np.ascontiguousarray(image[None, :, :, ::-1], dtype=np.float32)  # BGR -> RGB
        return self._session.run(None, {self._input: x})

    def _detect_once(self, image: np.ndarray) -> RawDetections:
        found = decode(self.run_network(image), image.shape[0], image.shape[1], self.score_floor)
        # boxes that clipping or a sub-pixel prediction left without area cover nothing: not detections
        return found.take(np.flatnonzero((found.boxes[:, 2] > 0) & (found.boxes[:, 3] > 0)))

    def detect(self, image: np.ndarray) -> RawDetections:
        long_side = max(image.shape[:2])
        scales = pass_scales(image.shape[1], image.shape[0], self.downscaled_long_side)
        if long_side > MAX_LONG_SIDE:
            scales[0] = MAX_LONG_SIDE / long_side
        return detect_multiscale(self._detect_once, image, scales, NMS_IOU)
