"""Review load of a finished run: open and set-aside review items per video, and items per minute of video.

    .venv/bin/python benchmarks/review_load.py --results RESULTS [--group PREFIX ...] [--out FILE.json]

Reads each video's ``verification/review_items.tsv`` and ``probe.json`` (its duration) under ``RESULTS``
(a run's ``results/`` folder). ``--group`` sums the videos whose id starts with PREFIX (for example ``u_`` and
``i_`` for a sheet of the unlabeled and the infant clips, named so). Only counts are read: no pixel.

The figures in docs/review.md come from a run of the workflow on a sample sheet of the five clips of
``../shared/eval/unlabeled/`` (ids ``u_<name>``) and seven of ``../shared/eval/infant/`` (ids ``i_<name>``):

    ./btb run --samples SHEET --directory RUN
    .venv/bin/python benchmarks/review_load.py --results RUN/results --group u_ i_ --out FILE.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd


def video_load(folder: Path) -> dict[str, Any] | None:
    """Items of one video's verification (None when it has none: not verified, or not a video)."""
    items_path = folder / "verification" / "review_items.tsv"
    probe_path = folder / "probe.json"
    if not items_path.is_file() or not probe_path.is_file():
        return None
    items = pd.read_csv(items_path, sep="\t", dtype={"reason": "string"})
    dismissed = items[items["status"] == "dismissed"]
    reasons: dict[str, int] = {}
    for text in dismissed["reason"].fillna(""):
        for reason in str(text).split(","):
            if reason:
                reasons[reason] = reasons.get(reason, 0) + 1
    opened = items[items["status"] == "open"]
    return {
        "duration_s": float(json.loads(probe_path.read_text()).get("duration_s") or 0.0),
        "open_items": len(opened),
        "dismissed_items": len(dismissed),
        "dismissed_reasons": dict(sorted(reasons.items())),  # an item with several reasons counts in each
        "open_detectors": dict(sorted(opened["detectors"].astype(str).value_counts().items())),
    }


def per_minute(items: int, seconds: float) -> float | None:
    return round(60.0 * items / seconds, 1) if seconds > 0 else None


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, required=True, help="a run's results/ folder")
    ap.add_argument("--group", nargs="*", default=[], help="video id prefixes to sum (default: all videos)")
    ap.add_argument("--out", type=Path, help="write the figures here (JSON)")
    args = ap.parse_args(argv)
    videos = {}
    for folder in sorted(p for p in args.results.iterdir() if p.is_dir()):
        load = video_load(folder)
        if load is not None:
            videos[folder.name] = load
    if not videos:
        ap.error(f"{args.results}: no verified video (no */verification/review_items.tsv with a probe.json)")
    groups = {}
    for prefix in args.group or [""]:
        members = [v for v in videos if v.startswith(prefix)]
        seconds = sum(videos[v]["duration_s"] for v in members)
        opened = sum(videos[v]["open_items"] for v in members)
        groups[prefix or "all"] = {
            "videos": len(members), "seconds": round(seconds, 2), "open_items": opened,
            "open_items_per_minute": per_minute(opened, seconds),
            "most_open_items_in_one_video": max((videos[v]["open_items"] for v in members), default=0),
        }
    report = {"groups": groups, "videos": videos}
    text = json.dumps(report, indent=2)
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(text + "\n")
    for name, g in groups.items():
        print(f"{name}: {g['open_items']} open items in {g['seconds']} s of video "
              f"({g['open_items_per_minute']} a minute; at most {g['most_open_items_in_one_video']} in one video)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
