"""Run a command with a filesystem that fills up at a chosen moment; report what the command left there.

Used by test_disk_full_e2e.py inside a private mount namespace (``unshare -rm``) in which MOUNT is a small
tmpfs, so the report must be made here, before the namespace (and the tmpfs with it) goes away:

    python fill_fs.py REPORT MOUNT TRIGGER LEAVE_BYTES -- COMMAND...

When MOUNT/TRIGGER appears, a ballast file (MOUNT/.ballast) takes all free space but LEAVE_BYTES. The report
(JSON) holds the command's exit code and output, the free space after filling, and every path left under
MOUNT (size, mode) with the text of its small .json/.tsv/.log files.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BALLAST = ".ballast"


def free_bytes(mount: Path) -> int:
    st = os.statvfs(mount)
    return st.f_bavail * st.f_frsize


def fill(mount: Path, leave: int) -> int:
    """Take all free space on ``mount`` but ``leave`` bytes; return the free bytes after."""
    size = free_bytes(mount) - leave
    if size > 0:
        fd = os.open(mount / BALLAST, os.O_WRONLY | os.O_CREAT, 0o600)
        try:
            os.posix_fallocate(fd, 0, size)
        finally:
            os.close(fd)
    return free_bytes(mount)


def listing(mount: Path) -> list[dict]:
    rows = []
    for p in sorted(mount.rglob("*")):
        rel = p.relative_to(mount).as_posix()
        if rel == BALLAST:
            continue
        st = p.lstat()
        row = {"path": rel, "dir": p.is_dir(), "bytes": st.st_size, "mode": oct(st.st_mode & 0o777)}
        if p.is_file() and p.suffix in (".json", ".tsv", ".log") and st.st_size < 200_000:
            row["text"] = p.read_text(errors="replace")
        rows.append(row)
    return rows


def main(argv: list[str]) -> int:
    sep = argv.index("--")
    report, mount, trigger, leave = argv[:sep]
    cmd = argv[sep + 1 :]
    mount = Path(mount)
    out = Path(report).with_suffix(".out")
    err = Path(report).with_suffix(".err")
    with open(out, "w") as fo, open(err, "w") as fe:
        proc = subprocess.Popen(cmd, stdout=fo, stderr=fe)
        filled_free = None
        while proc.poll() is None:
            if filled_free is None and (mount / trigger).exists():
                filled_free = fill(mount, int(leave))
            time.sleep(0.01)
    Path(report).write_text(json.dumps({
        "rc": proc.returncode, "triggered": filled_free is not None, "free_after_fill": filled_free,
        "stdout": out.read_text(errors="replace")[-20000:], "stderr": err.read_text(errors="replace")[-20000:],
        "files": listing(mount),
    }, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
