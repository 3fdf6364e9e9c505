"""Face detectors with one contract: ``detect(image_bgr) -> RawDetections`` in full-frame pixels (``base``).
Which detectors exist is declared once, in ``registry``; ``factory`` builds one from its configuration."""
