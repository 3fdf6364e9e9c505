"""Per-stage audit records: what a stage read and wrote (sha256 + size), its parameters, counts and times;
the software environment and the workflow's git state.

Every stage writes one JSON record next to its outputs. Records of intermediates are written while the files
still exist, so their hashes survive the files' deletion; the manifest stage gathers the records.
"""

from __future__ import annotations

import getpass
import platform
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

from btb.audit.hashing import tree_records
from btb.audit.io import utc_now, write_json

TRACKED_PACKAGES = ("btb", "snakemake", "numpy", "pandas", "pyarrow", "opencv-python-headless", "onnxruntime",
                    "av", "jsonschema", "PyYAML", "tensorflow-cpu", "tf2onnx", "onnx", "scikit-image",
                    "cryptography", "rocrate")


def package_versions() -> dict[str, str]:
    out = {}
    for name in TRACKED_PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def git_state(workdir: str | Path = ".") -> dict[str, Any]:
    """The workflow's git commit and whether the tree had uncommitted changes (None outside a checkout)."""
    def git(*args: str) -> str | None:
        try:
            proc = subprocess.run(["git", "-C", str(workdir), *args], capture_output=True, text=True, timeout=20)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return proc.stdout.strip() if proc.returncode == 0 else None

    commit = git("rev-parse", "HEAD")
    status = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": bool(status) if status is not None else None}


def environment() -> dict[str, Any]:
    from btb.video.ffmpeg import ffmpeg_version

    return {
        "user": getpass.getuser(),
        "host": socket.gethostname(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "packages": package_versions(),
        "ffmpeg": ffmpeg_version(),
    }


@dataclass
class StageRecord:
    stage: str
    video_id: str | None
    params: dict[str, Any]
    started_utc: str = field(default_factory=utc_now)
    ended_utc: str | None = None
    seconds: float | None = None
    inputs: list[dict[str, Any]] = field(default_factory=list)
    outputs: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, Any] = field(default_factory=dict)
    notes: dict[str, Any] = field(default_factory=dict)

    def add_inputs(self, *paths: str | Path) -> None:
        for p in paths:
            self.inputs.extend(tree_records(p))

    def add_outputs(self, *paths: str | Path) -> None:
        for p in paths:
            self.outputs.extend(tree_records(p))

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@contextmanager
def stage_record(stage: str, video_id: str | None, params: dict[str, Any], path: str | Path) -> Iterator[StageRecord]:
    """Yield a record to fill; on success it is timed and written to ``path`` (nothing is written on error)."""
    rec = StageRecord(stage, video_id, params)
    t0 = time.perf_counter()
    yield rec
    rec.seconds = round(time.perf_counter() - t0, 3)
    rec.ended_utc = utc_now()
    write_json(path, rec.to_dict())
