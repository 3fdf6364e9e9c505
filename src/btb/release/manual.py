"""Blur regions a reviewer adds by hand (source ``manual``).

A reviewer who finds a face the detectors missed draws a box on the de-identified frame and gives the frame
range it must cover. The regions live in ``results/<id>/manual_regions.json`` (written atomically, only by
``add_region``), which the workflow's region stage reads (``btb.regions.manual``): the next run merges them
into the region table, re-blurs, re-encodes and re-verifies that one video. Every addition is also an entry of
the video's signed, hash-chained review log carrying the file's new sha256, so a region removed or altered
outside the reviewer's tools is detected before anything is released (``check_against_log``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from btb.audit.hashing import sha256_file
from btb.audit.io import read_json, utc_now, write_json
from btb.errors import BTBError

MIN_SIDE = 4  # pixels: a region smaller than this blurs nothing useful
FIELDS = ("first_frame", "last_frame", "x", "y", "w", "h")


def manual_regions_path(results: str | Path, video_id: str) -> Path:
    return Path(results) / video_id / "manual_regions.json"


def read_manual(path: str | Path) -> list[dict[str, Any]]:
    """The regions in a manual-regions file (none when it does not exist)."""
    p = Path(path)
    if not p.is_file():
        return []
    data = read_json(p)
    if not isinstance(data, dict) or not isinstance(data.get("regions"), list):
        raise BTBError(f"{p}: not a manual-regions file (expected an object with a 'regions' list)")
    return data["regions"]


def checked_region(region: dict[str, Any], width: int, height: int, n_frames: int) -> dict[str, int]:
    """The region's box and frame range as integers, clipped to the frame; an error names what is wrong."""
    try:
        vals = {k: int(round(float(region[k]))) for k in FIELDS}
    except (KeyError, TypeError, ValueError) as exc:
        raise BTBError(f"a manual region needs numeric {', '.join(FIELDS)} ({exc})") from None
    first, last = max(0, vals["first_frame"]), min(n_frames - 1, vals["last_frame"])
    if first > last:
        raise BTBError(f"frame range {vals['first_frame']}-{vals['last_frame']} is empty or outside the video's "
                       f"{n_frames} frame(s)")
    x0, y0 = max(0, vals["x"]), max(0, vals["y"])
    x1, y1 = min(width, vals["x"] + vals["w"]), min(height, vals["y"] + vals["h"])
    if x1 - x0 < MIN_SIDE or y1 - y0 < MIN_SIDE:
        raise BTBError(f"box {vals['x']},{vals['y']} {vals['w']}x{vals['h']} lies outside the {width}x{height} "
                       f"frame or is smaller than {MIN_SIDE} px")
    return {"first_frame": first, "last_frame": last, "x": x0, "y": y0, "w": x1 - x0, "h": y1 - y0}


def add_region(results: str | Path, video_id: str, region: dict[str, Any], *, width: int, height: int,
               n_frames: int, reviewer: str, reason: str, item: int | None = None) -> tuple[dict[str, Any], str]:
    """Add one region to the video's manual-regions file (atomically); return the stored region and the file's
    new sha256. The caller records both in the review log."""
    if not reason.strip():
        raise BTBError("a manual region needs a reason")
    path = manual_regions_path(results, video_id)
    regions = read_manual(path)
    stored = {"id": max((int(r["id"]) for r in regions), default=0) + 1,
              **checked_region(region, width, height, n_frames),
              "reviewer": reviewer, "reason": reason.strip(), "item": item, "time_utc": utc_now()}
    write_json(path, {"video_id": video_id, "regions": [*regions, stored]})
    return stored, sha256_file(path)


def check_against_log(path: str | Path | None, log_entries: list[dict[str, Any]]) -> None:
    """Refuse a manual-regions file that is not exactly the regions the review log's ``add_region`` entries
    added, in order (one edited, removed or reordered outside ``add_region``), and one the log never recorded.
    Entries of a hash-chained log cannot be removed, so neither can a region: appending an entry only adds
    blur."""
    logged = [e["region"] for e in log_entries if e.get("decision") == "add_region"]
    exists = path is not None and Path(path).is_file()
    if not logged and not exists:
        return
    if not exists:
        raise BTBError(f"the review log records manual regions but {path or 'manual_regions.json'} is missing: "
                       "regions a reviewer added were removed")
    if not logged:
        raise BTBError(f"{path} holds manual regions that no review log entry records")
    if read_manual(path) != logged:
        raise BTBError(f"{path} is not the manual-regions file the review log records (regions edited, removed "
                       "or reordered outside the reviewer's tools)")
