"""Face detectors with one contract: ``detect(image_bgr) -> RawDetections`` in full-frame pixels."""

from btb.detect.base import RawDetections, detect_multiscale, pass_scales

__all__ = ["RawDetections", "detect_multiscale", "pass_scales"]
