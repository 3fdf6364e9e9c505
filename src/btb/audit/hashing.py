"""Streaming sha256 of files and folders."""

from __future__ import annotations

import hashlib
from pathlib import Path

CHUNK = 1 << 20


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
    return {"path": str(path), "sha256": sha256_file(p), "bytes": p.stat().st_size}


def tree_records(path: str | Path) -> list[dict[str, object]]:
    """File records for a file, or for every file below a folder (sorted, paths relative to cwd as given)."""
    p = Path(path)
    if p.is_dir():
        return [file_record(f) for f in sorted(q for q in p.rglob("*") if q.is_file())]
    return [file_record(p)]
