"""Writing files so that a failed or killed run never leaves one that looks finished.

Every output of the workflow is written under a hidden temporary name beside its final one and renamed when
complete (``atomic_output``); on any error the temporary file is removed. Standard library only.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def temporary_name(path: str | Path, keep_suffix: bool = False) -> Path:
    """The hidden temporary name of ``path``: ``.<name>.part`` (``.<name>.part<suffix>`` with ``keep_suffix``,
    for writers that pick a format from the suffix)."""
    p = Path(path)
    return p.with_name(f".{p.name}.part{p.suffix if keep_suffix else ''}")


@contextmanager
def atomic_output(path: str | Path, keep_suffix: bool = False, fsync: bool = False) -> Iterator[Path]:
    """Yield a temporary path to write ``path`` under; when the block ends without error it is renamed to
    ``path`` (after an fsync with ``fsync``), otherwise removed. The parent folder is created."""
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = temporary_name(final, keep_suffix)
    tmp.unlink(missing_ok=True)
    try:
        yield tmp
        if fsync:
            with open(tmp, "rb") as fh:
                os.fsync(fh.fileno())
        os.replace(tmp, final)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomic(path: str | Path, content: bytes) -> None:
    """Write ``content`` atomically (temporary name, fsync, rename); on any error (a full disk) the temporary
    file is removed and nothing appears under the final name."""
    with atomic_output(path, fsync=True) as tmp:
        tmp.write_bytes(content)


def json_bytes(data: Any) -> bytes:
    """The exact bytes ``write_json`` writes for ``data``."""
    return (json.dumps(data, indent=2, sort_keys=False, default=str) + "\n").encode("utf-8")


def write_json(path: str | Path, data: Any) -> None:
    """Write JSON atomically."""
    write_atomic(path, json_bytes(data))


def write_text(path: str | Path, text: str) -> None:
    """Write UTF-8 text atomically (reports, sidecars)."""
    write_atomic(path, text.encode("utf-8"))


def write_tsv(path: str | Path, table: Any, **to_csv: Any) -> None:
    """Write a pandas table as TSV (no index) atomically; ``to_csv``: more ``DataFrame.to_csv`` options."""
    write_atomic(path, table.to_csv(sep="\t", index=False, **to_csv).encode("utf-8"))


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text(encoding="utf-8"))
