"""Build a configured detector from the registry: verify its staged model file, then construct it.

A source model is checked against its pinned sha256, a model converted at staging against the sha256 staging
recorded beside it; either mismatch refuses the file before any frame is read.
"""

from __future__ import annotations

import logging
from typing import Any, Protocol

from btb.detect.base import RawDetections
from btb.detect.registry import DETECTORS
from btb.models.staging import verify_model, verify_sidecar

log = logging.getLogger("btb")


class Detector(Protocol):
    name: str

    def detect(self, image: Any) -> RawDetections: ...


def make_detector(name: str, model: str, options: dict[str, Any], threads: int, device: str) -> Detector:
    """Detector ``name`` (a registry key) on ``model``, with its ``detect.<name>`` options."""
    if name not in DETECTORS:
        raise ValueError(f"unknown detector {name!r} (registered: {', '.join(DETECTORS)})")
    spec = DETECTORS[name]
    files = spec.files(options)
    if files.derived:
        verify_sidecar(model)
    else:
        verify_model(files.model_id, model)
    kwargs = {k: options[k] for k in spec.constructor_keys}
    if spec.onnxruntime:
        kwargs["device"] = device
    elif device != "cpu":
        log.info("%s runs on the CPU whatever detect.device says (OpenCV's DNN module here has no CUDA)", spec.label)
    # the imports name each module, so that a stage's code digest (btb.pipeline.codegraph) follows them
    if name == "yunet":
        from btb.detect.yunet import YuNetDetector

        return YuNetDetector(model, threads=threads, **kwargs)
    if name == "retinaface" and options["backbone"] == "resnet50":
        from btb.detect.retinaface_resnet50 import RetinaFaceResNet50Detector

        return RetinaFaceResNet50Detector(model, threads=threads, **kwargs)
    if name == "retinaface":
        from btb.detect.retinaface import RetinaFaceDetector

        return RetinaFaceDetector(model, threads=threads, **kwargs)
    if name == "centerface":
        from btb.detect.centerface import CenterFaceDetector

        return CenterFaceDetector(model, threads=threads, **kwargs)
    if name == "pose":
        from btb.detect.pose import PoseDetector

        return PoseDetector(model, threads=threads, **kwargs)
    raise ValueError(f"detector {name!r} is registered but has no constructor here")  # pragma: no cover
