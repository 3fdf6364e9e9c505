"""Streaming sha256 of files and folders."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20

# Input files whose path may identify a participant (an input folder's file names under opaque ids): the path
# is replaced by a label in every record this process writes (see ``withhold_path``).
_WITHHELD: dict[str, str] = {}


def _key(path: str | Path) -> str:
    return str(Path(path).absolute().resolve())


def withhold_path(path: str | Path, label: str) -> None:
    """Record ``path`` as ``label`` (e.g. ``input:v1a2b3c4d5e6``) wherever this process records or logs it; the
    content hash and size are still recorded."""
    _WITHHELD[_key(path)] = label


def withheld_paths() -> dict[str, str]:
    """The paths being withheld (as given and resolved) and their labels."""
    return dict(_WITHHELD)


def shown_path(path: str | Path) -> str:
    """The path as records show it: its label when withheld, else as given."""
    return _WITHHELD.get(_key(path), str(path)) if _WITHHELD else str(path)


def sha256_file(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(CHUNK), b""):
            h.update(block)
    return h.hexdigest()


def file_record(path: str | Path) -> dict[str, object]:
    """{'path', 'sha256', 'bytes'} for one file (path kept as given)."""
    p = Path(path)
    shown = shown_path(path)
    rec: dict[str, object] = {"path": shown, "sha256": sha256_file(p), "bytes": p.stat().st_size}
    if shown != str(path):
        rec["path_withheld"] = True
    return rec


def tree_records(path: str | Path) -> list[dict[str, object]]:
    """File records for a file, or for every file below a folder (sorted, paths relative to cwd as given)."""
    p = Path(path)
    if p.is_dir():
        return [file_record(f) for f in sorted(q for q in p.rglob("*") if q.is_file())]
    return [file_record(p)]
