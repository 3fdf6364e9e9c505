"""Append-only JSON-lines logs whose entries are hash-chained.

Each entry carries ``prev_sha256``, the sha256 of the previous line; a head file beside the log
(``<log>.head``) records the number of entries and the last line's hash. Editing or deleting any entry,
the newest included, breaks one of the two. (Without a key someone who rewrites both files can forge a
chain; signed manifests are the defence against that.)
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from btb.audit.io import write_json
from btb.errors import BTBError


def head_path(log: str | Path) -> Path:
    p = Path(log)
    return p.with_name(f"{p.name}.head")


def _digest(line: str) -> str:
    return hashlib.sha256(line.encode()).hexdigest()


def read_entries(log: str | Path) -> list[dict[str, Any]]:
    p = Path(log)
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def check_chain(log: str | Path) -> list[str]:
    """Problems with the log (empty when intact)."""
    p = Path(log)
    lines = p.read_text(encoding="utf-8").splitlines() if p.is_file() else []
    problems, prev = [], None
    for n, line in enumerate(lines, start=1):
        if json.loads(line).get("prev_sha256") != prev:
            problems.append(f"{p}: entry {n} does not follow entry {n - 1} (edited or removed entry)")
        prev = _digest(line)
    head = head_path(p)
    if head.is_file():
        recorded = json.loads(head.read_text())
        if recorded != {"entries": len(lines), "last_sha256": prev}:
            problems.append(f"{p}: {len(lines)} entries end in {prev}, but {head.name} records "
                            f"{recorded['entries']} ending in {recorded['last_sha256']} (entries removed or edited)")
    elif lines:
        problems.append(f"{p}: {head.name} is missing")
    return problems


def append_entry(log: str | Path, entry: dict[str, Any]) -> dict[str, Any]:
    """Append ``entry`` (with ``prev_sha256`` added) under an exclusive lock; refuse a broken chain."""
    p = Path(log)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p.with_name(f".{p.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        problems = check_chain(p)
        if problems:
            raise BTBError("; ".join(problems))
        lines = p.read_text(encoding="utf-8").splitlines() if p.is_file() else []
        full = {**entry, "prev_sha256": _digest(lines[-1]) if lines else None}
        line = json.dumps(full, sort_keys=True)
        with open(p, "a", encoding="utf-8") as fh:
            fh.write(line + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        write_json(head_path(p), {"entries": len(lines) + 1, "last_sha256": _digest(line)})
    return full
