"""Temporal-coverage parameters against the labeled clips, re-scored from cached detections (no detection).

Needs the detection tables that `btb evaluate --configfile config/evaluate_shared.yaml` leaves in
results/eval-<clip>/. Prints, per setting, union's recall@0.8, recall@0.5, exposed frames and blur-area
ratio on each clip group, the ratio split into the regions on the labeled face and the share elsewhere
(btb.evaluation.metrics):

    .venv/bin/python benchmarks/temporal_sweep.py --eval-dir ../shared/eval/video \\
        --max-gap 6 15 30 60 --extend 3 10 --enlarge 1.3 1.5 --size-hold 0 30 90 --continue-yunet 0.4 0.45

Every merge.temporal parameter has an option (--speed-gain, --bridge-min, ...), as do --enlarge,
--continue-yunet, --neighbours and --uncertain-floor (the cascade's rule); options not given take the value in
config/config.yaml. benchmarks/results/temporal_sweep.md lists each sweep's command above its output.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
from pathlib import Path

import pandas as pd

from btb.config import load_config
from btb.evaluation.methods import LabeledClip, evaluate_videos, read_video_gt
from btb.regions.tables import read_detections

ROOT = Path(__file__).resolve().parents[1]
# merge.temporal parameters the sweep can vary (--max-gap, --size-hold, ...), and their types
TYPES = {"max_gap": int, "extend": int, "size_hold": int, "bridge_gap": int, "bridge_min": int,
        "size_dip": float, "bridge_distance": float, "speed_gain": float, "max_speed_enlarge": float,
        "match_iou": float, "match_distance": float}
TEMPORAL = tuple(TYPES)


def load_clips(results: Path, eval_dir: Path) -> list[LabeledClip]:
    clips = []
    for d in sorted(results.glob("eval-*")):
        name = d.name.removeprefix("eval-")
        probe = json.loads((d / "probe.json").read_text())
        clips.append(LabeledClip(
            name, read_video_gt(eval_dir / f"{name}_gt.csv"),
            {"yunet": read_detections(d / "detections" / "yunet.parquet"),
             "retinaface": read_detections(d / "detections" / "retinaface_all.parquet")},
            len(pd.read_csv(d / "frames.tsv", sep="\t")), int(probe["width"]), int(probe["height"]), {}))
    return clips


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval" / "video")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    for name in TEMPORAL:
        ap.add_argument("--" + name.replace("_", "-"), type=float, nargs="+", default=None,
                        help=f"merge.temporal.{name}")
    ap.add_argument("--enlarge", type=float, nargs="+", default=None, help="merge.enlarge")
    ap.add_argument("--continue-yunet", type=float, nargs="+", default=None,
                    help="merge.temporal.continue_thresholds.yunet (1.0: continuation off)")
    ap.add_argument("--neighbours", type=int, nargs="+", default=None, help="merge.cascade.neighbours")
    ap.add_argument("--uncertain-floor", type=float, nargs="+", default=None, help="merge.cascade.uncertain_floor")
    ap.add_argument("--methods", nargs="+", default=["union"], help="union, cascade, ...")
    ap.add_argument("--per-clip", action="store_true", help="a row per clip as well as per clip group")
    args = ap.parse_args()
    clips = load_clips(args.results, args.eval_dir)
    if not clips:
        raise SystemExit(f"no cached detections under {args.results}/eval-*: run btb evaluate first")
    base = load_config(ROOT / "config" / "config.yaml")["merge"]
    # every temporal parameter: the values given, else the configured default
    grid = {name: [TYPES[name](v) for v in getattr(args, name)] if getattr(args, name) else [base["temporal"][name]]
            for name in TEMPORAL}
    enlarges = args.enlarge or [base["enlarge"]]
    conts = args.continue_yunet or [base["temporal"].get("continue_thresholds", {}).get("yunet", 1.0)]
    neighbours = args.neighbours or [base["cascade"]["neighbours"]]
    floors = args.uncertain_floor or [base["cascade"]["uncertain_floor"]]
    print("| " + " | ".join(TEMPORAL) + " | enlarge | continue (YuNet) | cascade neighbours | uncertain floor | "
          "group | method | rec@0.8 | rec@0.5 | exposed | blur ratio | on labeled face | off-face share |")
    print("|---" * (len(TEMPORAL) + 12) + "|")
    for values in itertools.product(*grid.values(), enlarges, conts, neighbours, floors):
        *temporal, enl, cont, nb, floor = values
        merge = copy.deepcopy(base)
        merge["temporal"].update(dict(zip(TEMPORAL, temporal, strict=True)), continue_thresholds={"yunet": cont})
        merge["enlarge"] = enl
        merge["cascade"].update(neighbours=nb, uncertain_floor=floor)
        cells = " | ".join(str(v) for v in values)
        result = evaluate_videos(clips, merge, only=args.methods)
        rows = dict(result["groups"])
        if args.per_clip:
            rows |= {name: clip["methods"] for name, clip in result["clips"].items()}
        for group, figs in rows.items():
            for m in args.methods:
                u = figs[m]
                print(f"| {cells} | {group} | {m} | {u['recall_at_0_8']:.3f} | {u['recall_at_0_5']:.3f} | "
                      f"{u['exposed_frames']} | {u['blur_area_ratio']:.3f} | {u['face_blur_area_ratio']:.3f} | "
                      f"{u['off_face_blur_share']:.3f} |", flush=True)

if __name__ == "__main__":
    main()
