"""The list of videos (and still images) to process: a sample sheet, an input folder, or the built-in demo."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from pathlib import Path

from btb.errors import InputError

VIDEO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".mts", ".m2ts", ".3gp"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
DEMO_ID = "demo"
RESERVED_IDS = {"release", "eval", "logs", "benchmarks"}
DEMO_PATH = "resources/demo/demo.mp4"


@dataclass(frozen=True)
class Sample:
    video_id: str
    path: str

    @property
    def is_image(self) -> bool:
        """Still images (by file suffix) go through the image branch: same detect and merge, no encode."""
        return is_image(self.path)


def is_image(path: str | Path) -> bool:
    return Path(path).suffix.lower() in IMAGE_SUFFIXES


def output_suffix(source: str | Path) -> str:
    """The de-identified file's suffix for a still image: JPEG stays JPEG; every other format becomes PNG
    (lossless)."""
    return "jpg" if Path(source).suffix.lower() in (".jpg", ".jpeg") else "png"


def read_sample_sheet(sheet: str | Path) -> list[Sample]:
    """Read a TSV with columns ``video_id`` and ``path`` (relative paths are relative to the sheet)."""
    sheet = Path(sheet)
    try:
        text = sheet.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(sheet, f"cannot read sample sheet ({exc})") from exc
    reader = csv.DictReader(text.splitlines(), delimiter="\t")
    if not {"video_id", "path"} <= set(reader.fieldnames or []):
        raise InputError(sheet, "sample sheet must be tab-separated with a header containing 'video_id' and 'path'")
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        vid, path = (row.get("video_id") or "").strip(), (row.get("path") or "").strip()
        if not VIDEO_ID.match(vid):
            raise InputError(sheet, f"line {line_no}: video_id {vid!r} must match {VIDEO_ID.pattern}")
        if not path:
            raise InputError(sheet, f"line {line_no}: empty path for video_id {vid!r}")
        if vid in RESERVED_IDS:
            raise InputError(sheet, f"line {line_no}: video_id {vid!r} is reserved (results/{vid}/ is used by the "
                                    "workflow)")
        if vid in seen:
            raise InputError(sheet, f"line {line_no}: duplicate video_id {vid!r} (first on line {seen[vid]})")
        seen[vid] = line_no
        p = Path(path)
        samples.append(Sample(vid, str(p if p.is_absolute() else (sheet.parent / p))))
    if not samples:
        raise InputError(sheet, "sample sheet lists no videos")
    return samples


def sanitise_id(stem: str) -> str:
    cleaned = re.sub(r"[^A-Za-z0-9_.-]+", "_", stem).strip("._-") or "video"
    return cleaned[:128] if cleaned[0].isalnum() else f"v{cleaned}"[:128]


def scan_input_dir(folder: str | Path) -> list[Sample]:
    """Every video file directly in ``folder``; ids are sanitised file stems (made unique with a suffix)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "input_dir is not a folder")
    samples: list[Sample] = []
    used: set[str] = set()
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES | IMAGE_SUFFIXES:
            vid, n = sanitise_id(p.stem), 2
            base = vid
            while vid in used or vid in RESERVED_IDS:
                vid, n = f"{base}_{n}", n + 1
            used.add(vid)
            samples.append(Sample(vid, str(p)))
    if not samples:
        raise InputError(folder, f"no video or image files ({', '.join(sorted(VIDEO_SUFFIXES | IMAGE_SUFFIXES))}) "
                                 "in input_dir")
    return samples


def resolve_samples(samples: str, input_dir: str) -> list[Sample]:
    if samples:
        return read_sample_sheet(samples)
    if input_dir:
        return scan_input_dir(input_dir)
    return [Sample(DEMO_ID, DEMO_PATH)]


def labeled_clips(folder: str | Path) -> dict[str, dict[str, str]]:
    """Labeled evaluation clips in ``folder``: every ``NAME.mp4`` with a ``NAME_gt.csv`` beside it, keyed by
    the workflow id ``eval-NAME``."""
    if not folder:
        return {}
    root = Path(folder)
    if not root.is_dir():
        raise InputError(root, "evaluate.video_dir is not a folder")
    clips = {}
    for video in sorted(root.glob("*.mp4")):
        gt = video.with_name(f"{video.stem}_gt.csv")
        if gt.is_file():
            clips[f"eval-{sanitise_id(video.stem)}"] = {"video": str(video), "gt": str(gt), "name": video.stem}
    if not clips:
        raise InputError(root, "no labeled clips (NAME.mp4 with NAME_gt.csv) in evaluate.video_dir")
    return clips
