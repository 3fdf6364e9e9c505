"""YuNet (OpenCV Zoo 2023mar ONNX) through ``cv2.FaceDetectorYN``."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from btb.detect.base import RawDetections, detect_multiscale, pass_scales


class YuNetDetector:
    """Constructed once per process; ``detect`` takes BGR frames of any size."""

    name = "yunet"

    def __init__(
        self,
        model_path: str | Path,
        score_floor: float = 0.3,
        nms_iou: float = 0.3,
        downscaled_long_side: int | None = 320,
        threads: int = 1,
    ) -> None:
        cv2.setNumThreads(max(1, threads))
        self.score_floor = score_floor
        self.nms_iou = nms_iou
        self.downscaled_long_side = downscaled_long_side
        self._net = cv2.FaceDetectorYN.create(str(model_path), "", (320, 320), score_floor, nms_iou, 5000)
        self._size: tuple[int, int] = (320, 320)

    def _detect_once(self, image: np.ndarray) -> RawDetections:
        size = (image.shape[1], image.shape[0])
        if size != self._size:
            self._net.setInputSize(size)
            self._size = size
        _, faces = self._net.detect(image)
        if faces is None or len(faces) == 0:
            return RawDetections.empty()
        faces = faces.astype(np.float64)
        return RawDetections(faces[:, 0:4], faces[:, 14], faces[:, 4:14], np.ones(len(faces)))

    def detect(self, image: np.ndarray) -> RawDetections:
        scales = pass_scales(image.shape[1], image.shape[0], self.downscaled_long_side)
        return detect_multiscale(self._detect_once, image, scales, self.nms_iou)
