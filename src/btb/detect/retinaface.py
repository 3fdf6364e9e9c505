"""RetinaFace-MobileNetV2 (the frozen graph of ``retinaface==1.1.1``, converted to ONNX) on onnxruntime.

The converted graph takes float32 RGB 0-255 NHWC with H and W multiples of 32 and returns [K, 16]: normalised
x1, y1, x2, y2, five landmarks (x, y), a valid flag and the score. Non-maximum suppression (IoU 0.4) runs
inside the graph; staging lowers its score floor from 0.5 so that recall is not capped.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import onnxruntime as ort

from btb.detect.base import RawDetections, detect_multiscale, pass_scales

log = logging.getLogger(__name__)


def choose_providers(device: str, detector: str = "RetinaFace") -> list[str]:
    """onnxruntime providers for ``device`` ('cpu', 'cuda' or 'auto'), falling back to CPU with a log line."""
    available = ort.get_available_providers()
    if device in ("cuda", "auto") and "CUDAExecutionProvider" in available:
        log.info("%s runs on the GPU (onnxruntime CUDAExecutionProvider)", detector)
        return ["CUDAExecutionProvider", "CPUExecutionProvider"]
    if device == "cuda":
        log.warning("detect.device is cuda but onnxruntime offers only %s (install onnxruntime-gpu and CUDA: "
                    "envs/detect-gpu.yaml); falling back to CPU", available)
    elif device == "auto":
        log.info("detect.device is auto and no CUDA provider is available: %s runs on the CPU", detector)
    return ["CPUExecutionProvider"]


def session_options(threads: int, *, fixed_shape: bool = True) -> ort.SessionOptions:
    """onnxruntime options of every detector: ``threads`` worker threads that sleep instead of spinning when
    idle. Spinning threads steal the cores that the decoder, the other detector of a verification job and
    other jobs need (measured: verification 15 % faster on an idle 2-core machine, RetinaFace 30 % faster
    beside other jobs, 6 % slower alone).

    A network fed images of their own size (``fixed_shape=False``: each frame size, and the downscaled pass
    beside the full one) gets no memory pattern: onnxruntime would keep a planned buffer set per input shape.
    Measured on 1080p frames with RetinaFace: peak memory 874 -> 568 MB, time per frame within 2-7 %."""
    opts = ort.SessionOptions()
    opts.enable_mem_pattern = fixed_shape
    opts.intra_op_num_threads = max(1, threads)
    opts.inter_op_num_threads = 1
    opts.log_severity_level = 3
    opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
    return opts


class RetinaFaceDetector:
    name = "retinaface"
    label = "RetinaFace"

    def __init__(
        self,
        model_path: str | Path,
        *,
        score_floor: float,
        downscaled_long_side: int,
        threads: int = 1,
        device: str = "cpu",
    ) -> None:
        self.providers = choose_providers(device, self.label)
        opts = session_options(threads, fixed_shape=False)
        self._session = ort.InferenceSession(str(model_path), opts, providers=self.providers)
        self._input = self._session.get_inputs()[0].name
        self.score_floor = score_floor
        self.downscaled_long_side = downscaled_long_side

    def _detect_once(self, image: np.ndarray) -> RawDetections:
        h, w = image.shape[:2]
        ph, pw = -(-h // 32) * 32, -(-w // 32) * 32
        x = np.zeros((1, ph, pw, 3), dtype=np.float32)
        x[0, :h, :w] = image[:, :, ::-1]  # BGR -> RGB
        out = self._session.run(None, {self._input: x})[0]
        keep = (out[:, 14] > 0) & (out[:, 15] >= self.score_floor)
        out = out[keep].astype(np.float64)
        if len(out) == 0:
            return RawDetections.empty()
        scale = np.array([pw, ph, pw, ph], dtype=np.float64)
        xyxy = out[:, 0:4] * scale
        boxes = np.column_stack([xyxy[:, 0], xyxy[:, 1], xyxy[:, 2] - xyxy[:, 0], xyxy[:, 3] - xyxy[:, 1]])
        lms = out[:, 4:14] * np.tile([pw, ph], 5)
        return RawDetections(boxes, out[:, 15], lms, np.ones(len(out)))

    def detect(self, image: np.ndarray) -> RawDetections:
        scales = pass_scales(image.shape[1], image.shape[0], self.downscaled_long_side)
        return detect_multiscale(self._detect_once, image, scales, 0.4)
