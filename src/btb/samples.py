"""The list of videos (and still images) to process: a sample sheet, an input folder, or the built-in demo."""

from __future__ import annotations

import csv
import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path

from btb.errors import InputError

VIDEO_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$")
VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".avi", ".webm", ".mpg", ".mpeg", ".mts", ".m2ts", ".3gp"}
IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff", ".webp"}
DEMO_ID = "demo"
# results/<id>/ must not be a folder or file of the run itself
RESERVED_IDS = {"release", "eval", "logs", "benchmarks", "audit_log.jsonl", "audit_log.jsonl.head", "summary.json",
                "summary.tsv", "summary.html", "ro-crate-metadata.json"}
RESERVED_PREFIX = "eval-"  # the evaluation's labeled clips


def check_video_id(vid: str) -> str | None:
    """Why ``vid`` cannot name a video (None when it can)."""
    if not VIDEO_ID.match(vid):
        return f"video_id {vid!r} must match {VIDEO_ID.pattern}"
    if vid in RESERVED_IDS or vid.startswith(RESERVED_PREFIX):
        return f"video_id {vid!r} is reserved (results/{vid} is the run's own)"
    return None
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
    # no quoting: a quote character is part of the path, never syntax (a path "x".mp4 must not become x.mp4)
    reader = csv.DictReader(text.splitlines(), delimiter="\t", quoting=csv.QUOTE_NONE)
    if not {"video_id", "path"} <= set(reader.fieldnames or []):
        raise InputError(sheet, "sample sheet must be tab-separated with a header containing 'video_id' and 'path'")
    samples: list[Sample] = []
    seen: dict[str, int] = {}
    for line_no, row in enumerate(reader, start=2):
        if None in row or any(v is None for v in row.values()):
            raise InputError(sheet, f"line {line_no}: expected {len(reader.fieldnames or [])} tab-separated fields")
        vid, path = (row.get("video_id") or "").strip(), (row.get("path") or "").strip()
        if problem := check_video_id(vid):
            raise InputError(sheet, f"line {line_no}: {problem}")
        if not path:
            raise InputError(sheet, f"line {line_no}: empty path for video_id {vid!r}")
        if path[0] in "\"'":
            raise InputError(sheet, f"line {line_no}: the path of {vid!r} begins with a quote; a sheet is "
                                    "tab-separated with no quoting: write the path as it is on disk")
        if any(ord(c) < 32 for c in path):
            raise InputError(sheet, f"line {line_no}: the path of {vid!r} holds a control character")
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


def opaque_id(path: str | Path) -> str:
    """An id that says nothing about the file's name: ``v`` and 12 hex digits of the sha256 of its size and
    first MiB (stable for the same file, different for different recordings)."""
    p = Path(path)
    h = hashlib.sha256(str(p.stat().st_size).encode() + b"\0")
    with open(p, "rb") as fh:
        h.update(fh.read(1 << 20))
    return f"v{h.hexdigest()[:12]}"


def scan_input_dir(folder: str | Path, ids: str = "opaque") -> list[Sample]:
    """Every video and photo directly in ``folder``. ``ids``: ``opaque`` (default; ``opaque_id``: file names,
    which may identify a participant, reach no output name or record) or ``names`` (sanitised file stems);
    made unique with a suffix."""
    folder = Path(folder)
    if not folder.is_dir():
        raise InputError(folder, "input_dir is not a folder")
    samples: list[Sample] = []
    used: set[str] = set()
    for p in sorted(folder.iterdir()):
        if p.is_file() and p.suffix.lower() in VIDEO_SUFFIXES | IMAGE_SUFFIXES:
            vid, n = (opaque_id(p) if ids == "opaque" else sanitise_id(p.stem)), 2
            if vid.startswith(RESERVED_PREFIX):
                vid = f"v{vid}"
            base = vid
            while vid in used or check_video_id(vid):
                vid, n = f"{base}_{n}", n + 1
            used.add(vid)
            samples.append(Sample(vid, str(p)))
    if not samples:
        raise InputError(folder, f"no video or image files ({', '.join(sorted(VIDEO_SUFFIXES | IMAGE_SUFFIXES))}) "
                                 "in input_dir")
    return samples


def resolve_samples(samples: str, input_dir: str, ids: str = "opaque") -> list[Sample]:
    if samples:
        return read_sample_sheet(samples)
    if input_dir:
        return scan_input_dir(input_dir, ids)
    return [Sample(DEMO_ID, DEMO_PATH)]


def write_id_map(path: str | Path, samples: list[Sample]) -> None:
    """The map from input file to video id, owner-only (0600): the one place that links the two."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    text = "video_id\tpath\n" + "".join(f"{s.video_id}\t{s.path}\n" for s in samples)
    tmp = p.with_name(f".{p.name}.part")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        fh.write(text)
    os.chmod(tmp, 0o600)
    os.replace(tmp, p)


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
