"""Names of the metadata fields an input carried, safe to record.

Records keep the names of the tags a file carried (so an auditor sees that GPS, dates or device fields were
present and removed), never their values. A name can be an identifier too (a tag named after a patient and a
record number), so only names on a list of known, standard fields are kept as they are; any other name is
recorded as ``unlisted:`` and the first 16 hex digits of its sha256 (a file that carried it can be recognised;
the name cannot be read back).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable

KNOWN = {n.lower() for n in (
    # container and stream tags (ffmpeg, MP4/QuickTime, Matroska, AVI)
    "title", "comment", "description", "synopsis", "keywords", "creation_time", "date", "year", "location",
    "location-eng", "make", "model", "encoder", "encoded_by", "software", "artist", "album", "album_artist",
    "composer", "genre", "copyright", "publisher", "grouping", "lyrics", "track", "disc", "show", "episode_id",
    "network", "major_brand", "minor_version", "compatible_brands", "handler_name", "vendor_id", "language",
    "timecode", "rotate", "duration", "bps", "number_of_frames", "number_of_bytes", "_statistics_writing_app",
    "_statistics_writing_date_utc", "_statistics_tags", "mimetype", "filename", "com.apple.quicktime.make",
    "com.apple.quicktime.model", "com.apple.quicktime.software", "com.apple.quicktime.creationdate",
    "com.apple.quicktime.location.iso6709", "com.apple.quicktime.location.accuracy.horizontal",
    "com.apple.quicktime.content.identifier", "com.apple.quicktime.live-photo.auto",
    "com.android.version", "com.android.capture.fps", "com.android.manufacturer", "com.android.model",
    "title-eng", "comment-eng", "encoder-eng", "icmt", "inam", "isft", "icrd", "iart",
    # still images: PNG text keywords and PIL's info keys (EXIF names come from the standard EXIF table)
    "author", "creation time", "disclaimer", "warning", "source", "xml:com.adobe.xmp", "icc_profile", "exif",
    "dpi", "gamma", "transparency", "aspect", "photoshop", "adobe", "adobe_transform", "progressive",
    "progression", "jfif", "jfif_version", "jfif_unit", "jfif_density", "interlace", "srgb", "chromaticity",
)}


def safe_name(name: object) -> str:
    """``name`` when it is a known field name, else ``unlisted:<sha256 prefix>``."""
    text = str(name)
    if text.lower() in KNOWN or text.isdigit():
        return text
    return "unlisted:" + hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:16]


def safe_names(names: Iterable[object]) -> list[str]:
    return sorted(safe_name(n) for n in names)
