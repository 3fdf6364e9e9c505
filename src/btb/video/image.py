"""Still images: read normalised (EXIF orientation applied, BGR), write without any metadata, check."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import cv2
import numpy as np

from btb.audit.io import atomic_output
from btb.errors import InputError
from btb.video.tags import safe_names

# Metadata that PIL reports for a file: anything beyond the JFIF/PNG structural fields is a leak.
STRUCTURAL_INFO = {"jfif", "jfif_version", "jfif_unit", "jfif_density", "progressive", "progression"}


def read_image(path: str | Path) -> np.ndarray:
    """BGR pixels with the EXIF orientation applied; InputError naming the file if it cannot be decoded."""
    from btb.video.ffmpeg import check_readable

    p = check_readable(path)
    data = np.fromfile(p, dtype=np.uint8)
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(p, "not a readable image")
    return image


def probe_image(path: str | Path) -> dict[str, Any]:
    """Size after orientation, format, and the *names* of metadata fields the file carries."""
    from PIL import Image

    image = read_image(path)
    with Image.open(path) as im:
        exif = im.getexif()
        names = sorted(str(Image.ExifTags.TAGS.get(k, k)) for k in exif.keys())  # standard EXIF names, or numbers
        info_names = safe_names(k for k in im.info if k not in STRUCTURAL_INFO)
        fmt = im.format
    return {"media": "image", "path": str(path), "container": fmt, "width": int(image.shape[1]),
            "height": int(image.shape[0]), "rotation": 0, "n_audio_streams": 0, "n_other_streams": 0,
            "format_tag_names": info_names, "exif_tag_names": names}


def write_image(image: np.ndarray, out: str | Path, jpeg_quality: int = 95) -> None:
    """Encode with OpenCV, which writes pixels only (no EXIF, XMP, ICC or text), atomically."""
    out = Path(out)
    ext = out.suffix.lower()
    params = [cv2.IMWRITE_JPEG_QUALITY, jpeg_quality] if ext in (".jpg", ".jpeg") else []
    ok, buf = cv2.imencode(ext, image, params)
    if not ok:
        raise InputError(out, "could not encode the image")
    with atomic_output(out) as tmp:
        buf.tofile(tmp)


def check_image(path: str | Path, width: int, height: int) -> dict[str, Any]:
    """``{'passed', 'problems', ...}``: decodes, same size, no metadata fields left."""
    from PIL import Image

    problems: list[str] = []
    with Image.open(path) as im:
        size = im.size
        exif = dict(im.getexif())
        extra = sorted(k for k in im.info if k not in STRUCTURAL_INFO and k != "dpi")
    if size != (width, height):
        problems.append(f"size {size[0]}x{size[1]} differs from input {width}x{height}")
    if exif:
        problems.append(f"EXIF fields remain: {sorted(exif)}")
    if extra:
        problems.append(f"metadata remains: {extra}")
    return {"passed": not problems, "problems": problems, "width": size[0], "height": size[1], "frames": 1,
            "input_frames": 1, "exif_fields": len(exif), "info_fields": extra}
