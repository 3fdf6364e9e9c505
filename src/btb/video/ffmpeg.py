"""Running ffmpeg and ffprobe with errors that name the file."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

from btb.errors import InputError, ToolError


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        raise ToolError(
            f"{tool} not found on PATH. Install FFmpeg (Debian/Ubuntu: 'apt-get install ffmpeg'; "
            "macOS: 'brew install ffmpeg'; conda: 'conda install -c conda-forge ffmpeg')."
        )
    return path


DISK_FULL = ("No space left on device", "Disk quota exceeded")


def ffmpeg_command(args: list[str]) -> list[str]:
    """The full ffmpeg command line for ``args``: quiet except for errors, overwriting its output."""
    return [require("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", "-y", *args]


def raise_for_ffmpeg(err: str, returncode: int | None, *, about: str | Path, writing: str | Path | None) -> None:
    """Raise ToolError for a failed ffmpeg run given its error output: naming ``about``, and ``writing`` when
    the disk or quota is full. Checked whatever the exit status: ffmpeg can exit 0 after failing to write
    (e.g. the MP4 trailer)."""
    err = err.strip()
    full = next((m for m in DISK_FULL if m in err), None)
    if full:
        line = next(x for x in err.splitlines() if full in x)
        raise ToolError(f"{full.lower()} while writing {writing or 'the output'} (ffmpeg on {about}: {line[:300]})")
    if returncode != 0:
        raise ToolError(f"ffmpeg failed on {about}: {err[-2000:]}")


def run_ffmpeg(args: list[str], *, about: str | Path, writing: str | Path | None = None,
               private: bool = False) -> str:
    """Run ffmpeg with ``args`` (without the program name); raise ToolError naming ``about`` on failure (and
    ``writing``, the file or folder it writes, when the disk or quota is full). ``private``: files it creates
    are owner-only (umask 077), for face-bearing intermediates.
    Returns what ffmpeg reported at error level (empty for a clean run)."""
    proc = subprocess.run(ffmpeg_command(args), capture_output=True, text=True, umask=0o077 if private else -1)
    raise_for_ffmpeg(proc.stderr, proc.returncode, about=about, writing=writing)
    return proc.stderr.strip()


def check_readable(path: str | Path) -> Path:
    """``path`` as a Path if it is a regular file this process may read; InputError naming it otherwise."""
    p = Path(path)
    if not p.exists():
        raise InputError(p, "file does not exist")
    if not p.is_file():
        raise InputError(p, "not a regular file")
    try:
        with open(p, "rb"):
            pass
    except PermissionError:
        import getpass

        mode = p.stat().st_mode & 0o777
        raise InputError(p, f"cannot be read: permission denied for user {getpass.getuser()!r} (file mode "
                            f"{mode:03o}); fix its permissions or leave it out") from None
    return p


def ffprobe_json(path: str | Path, *extra: str, timeout: float | None = None) -> dict:
    """ffprobe's JSON for a file; InputError naming the file when ffprobe cannot read it (or, with ``timeout``
    seconds, does not answer in time: subprocess.TimeoutExpired)."""
    p = check_readable(path)
    cmd = [require("ffprobe"), "-v", "error", "-of", "json", *extra, str(p)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout)
    if proc.returncode != 0:
        msg = proc.stderr.strip().splitlines()
        raise InputError(p, f"not a readable media file ({msg[-1] if msg else 'ffprobe failed'})")
    return json.loads(proc.stdout or "{}")


def ffmpeg_version() -> str:
    proc = subprocess.run([require("ffmpeg"), "-version"], capture_output=True, text=True)
    return proc.stdout.splitlines()[0] if proc.stdout else "unknown"
