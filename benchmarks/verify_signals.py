"""Residual verification with and without the fast-motion signal (``verify.motion``) on a finished run's videos.

    .venv/bin/python benchmarks/verify_signals.py --results RESULTS --samples SHEET --models MODELS_DIR \
        [--gt-dir DIR ...] [--configfile CONFIG] [--out benchmarks/results/verify_motion.json]

For each video of the run (its de-identified output, region table and stored detection tables), verification
runs twice in one process, ``verify.motion.enabled`` false then true, everything else as configured (a
detector counts as enabled when the run stored its table). Reported per video and variant: seconds, flags by
detector, open and dismissed review items, the items motion flags are in; and, for a video whose labeled boxes
are found as ``NAME_gt.csv`` in a ``--gt-dir`` (NAME: the video id, less an ``eval-`` prefix), its exposed
frames and how many the review items catch (``btb.evaluation.catch``). Everything is written to a temporary
folder; only counts and times are reported.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
sys.path.insert(0, str(Path(__file__).resolve().parent))
from verify_redetect import one  # noqa: E402

from btb.config import defaults, load_config, stage_config  # noqa: E402
from btb.evaluation.catch import exposures, summarise_catch  # noqa: E402
from btb.release.items import frame_seconds  # noqa: E402
from btb.video.frames import read_frame_table  # noqa: E402


def _gt(video_id: str, dirs: list[Path]) -> pd.DataFrame | None:
    name = video_id.removeprefix("eval-")
    for d in dirs:
        if (d / f"{name}_gt.csv").exists():
            return pd.read_csv(d / f"{name}_gt.csv")
    return None


def _catch(res: Path, out: Path, gt: pd.DataFrame) -> dict[str, Any]:
    flags = pd.read_csv(out / "flags.tsv", sep="\t")
    items = pd.read_csv(out / "items.tsv", sep="\t")
    probe = json.loads((res / "probe.json").read_text())
    times = frame_seconds(read_frame_table(str(res / "frames.tsv")))
    rows = exposures(gt, pd.read_parquet(res / "regions.parquet"), flags, items, times, int(probe["height"]),
                     int(probe["width"]))
    s = summarise_catch(rows, items, max(times.values()) if times else 0.0)
    return {k: s[k] for k in ("exposed_frames", "caught_frames", "set_aside_frames", "missed_frames", "missed")}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, type=Path, help="results folder of a finished run")
    ap.add_argument("--samples", required=True, help="the run's sample sheet (video_id, path)")
    ap.add_argument("--models", required=True, help="the run's models folder")
    ap.add_argument("--gt-dir", nargs="*", type=Path, default=[], help="folders of labeled boxes (NAME_gt.csv)")
    ap.add_argument("--configfile", help="the run's configuration (default: the defaults)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    base = stage_config(load_config(args.configfile) if args.configfile else defaults())
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        # read plainly: the evaluation's own videos (eval-NAME) are not a sample sheet's to name
        for sample in pd.read_csv(args.samples, sep="\t", dtype=str).itertuples():
            vid, res = str(sample.video_id), args.results / str(sample.video_id)
            if not (res / "regions.parquet").exists() or not list(res.glob(f"{vid}.deid.*")):
                continue
            cfg = copy.deepcopy(base)
            for name, options in cfg["detect"].items():  # the detectors whose tables the run stored
                if isinstance(options, dict) and "enabled" in options:
                    options["enabled"] = any((res / "detections" / f"{name}{s}.parquet").exists()
                                             for s in ("", "_all", "_cascade"))
            gt = _gt(vid, args.gt_dir)
            rows[vid] = {}
            for motion in (False, True):
                cfg["verify"]["motion"]["enabled"] = motion
                r = one(vid, str(sample.path), res, cfg, args.models, list(cfg["verify"]["redetect"]), Path(tmp))
                out = Path(tmp) / vid / "+".join(cfg["verify"]["redetect"])
                items = pd.read_csv(out / "items.tsv", sep="\t")
                moving = items[items["detectors"].astype(str).str.contains("motion")]
                r["motion_items_open"] = int((moving["status"] == "open").sum())
                r["motion_items_dismissed"] = int((moving["status"] != "open").sum())
                if gt is not None:
                    r["catch"] = _catch(res, out, gt)
                name = "motion" if motion else "no_motion"
                rows[vid][name] = r
                caught = (f"  caught {r['catch']['caught_frames']}/{r['catch']['exposed_frames']}"
                          if "catch" in r else "")
                print(f"{vid:<45} {name:<10} {r['seconds']:6.2f} s  open items {r['open_items']:3d} (motion "
                      f"{r['motion_items_open']})  dismissed {r['dismissed_items']:3d}{caught}", flush=True)
    totals: dict[str, dict[str, Any]] = {}
    for name in ("no_motion", "motion"):
        t = {k: round(sum(v[name][k] for v in rows.values()), 2)
             for k in ("seconds", "frames", "flags", "open_items", "dismissed_items", "motion_items_open")}
        labeled = [v[name]["catch"] for v in rows.values() if "catch" in v[name]]
        t["exposed_frames"] = sum(c["exposed_frames"] for c in labeled)
        t["caught_frames"] = sum(c["caught_frames"] for c in labeled)
        totals[name] = t
        print(f"all videos  {name:<10} {t['seconds']:7.2f} s for {t['frames']} frames  open items {t['open_items']} "
              f"(motion {t['motion_items_open']})  dismissed {t['dismissed_items']}  caught {t['caught_frames']}/"
              f"{t['exposed_frames']} exposed frames")
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "videos": rows, "totals": totals},
                                       indent=1) + "\n")


if __name__ == "__main__":
    main()
