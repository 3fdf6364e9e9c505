"""YuNet (OpenCV Zoo 2023mar ONNX) through ``cv2.FaceDetectorYN``."""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path

import cv2
import numpy as np

from btb.detect.base import RawDetections, detect_multiscale, pass_scales

# One FaceDetectorYN per input size: ``setInputSize`` re-plans OpenCV's network, and switching back and forth
# between the full frame and the downscaled pass on one network cost 21.5 ms per 640x360 frame against 10.9 ms
# with one network per size (2 threads; 27.9 against 17.2 with 1; docs/performance.md). Images of many sizes keep
# the few most recent sizes; a new size beyond those re-plans the least recently used network.
MAX_INSTANCES = 4


class YuNetDetector:
    """Constructed once per process; ``detect`` takes BGR frames of any size."""

    name = "yunet"

    def __init__(
        self,
        model_path: str | Path,
        *,
        score_floor: float,
        nms_iou: float,
        downscaled_long_side: int,
        threads: int = 1,
    ) -> None:
        cv2.setNumThreads(max(1, threads))
        self.model_path = str(model_path)
        self.score_floor = score_floor
        self.nms_iou = nms_iou
        self.downscaled_long_side = downscaled_long_side
        self._nets: OrderedDict[tuple[int, int], cv2.FaceDetectorYN] = OrderedDict()
        self._net_for((320, 320))  # fail at construction, not on the first frame, if the model is unusable

    def _net_for(self, size: tuple[int, int]) -> cv2.FaceDetectorYN:
        net = self._nets.get(size)
        if net is not None:
            self._nets.move_to_end(size)
        elif len(self._nets) >= MAX_INSTANCES:  # re-plan the least recently used network for the new size
            _, net = self._nets.popitem(last=False)
            net.setInputSize(size)
            self._nets[size] = net
        else:
            net = cv2.FaceDetectorYN.create(self.model_path, "", size, self.score_floor, self.nms_iou, 5000)
            self._nets[size] = net
        return net

    def _detect_once(self, image: np.ndarray) -> RawDetections:
        _, faces = self._net_for((image.shape[1], image.shape[0])).detect(image)
        if faces is None or len(faces) == 0:
            return RawDetections.empty()
        faces = faces.astype(np.float64)
        return RawDetections(faces[:, 0:4], faces[:, 14], faces[:, 4:14], np.ones(len(faces)))

    def detect(self, image: np.ndarray) -> RawDetections:
        scales = pass_scales(image.shape[1], image.shape[0], self.downscaled_long_side)
        return detect_multiscale(self._detect_once, image, scales, self.nms_iou)
