"""Temporal-coverage parameters against the labeled clips, re-scored from cached detections (no detection).

Needs the detection tables that `btb evaluate --configfile config/evaluate_shared.yaml` leaves in
results/eval-<clip>/. Prints, per setting, union's recall@0.8, recall@0.5, exposed frames and blur-area
ratio on each clip group:

    .venv/bin/python benchmarks/temporal_sweep.py --eval-dir ../shared/eval/video \\
        --max-gap 6 15 30 60 --extend 3 10 --enlarge 1.3 1.5 --size-hold 0 30 90 --continue-yunet 0.4 0.45

Options not given take the value in config/config.yaml. The sweep behind benchmarks/results/temporal_sweep.md
is the command at its top.
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
from pathlib import Path

import pandas as pd

from btb.config import load_config
from btb.evaluate import LabeledClip, evaluate_videos, read_video_gt
from btb.tables import read_detections

ROOT = Path(__file__).resolve().parents[1]


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
    ap.add_argument("--max-gap", type=int, nargs="+", default=[6])
    ap.add_argument("--extend", type=int, nargs="+", default=[3])
    ap.add_argument("--enlarge", type=float, nargs="+", default=[1.3])
    ap.add_argument("--size-hold", type=int, nargs="+", default=None)
    ap.add_argument("--bridge-gap", type=int, nargs="+", default=None)
    ap.add_argument("--bridge-distance", type=float, nargs="+", default=None)
    ap.add_argument("--size-dip", type=float, nargs="+", default=None)
    ap.add_argument("--continue-yunet", type=float, nargs="+", default=None,
                    help="merge.temporal.continue_thresholds.yunet (1.0: continuation off)")
    ap.add_argument("--methods", nargs="+", default=["union"], help="union, cascade, ...")
    args = ap.parse_args()
    clips = load_clips(args.results, args.eval_dir)
    if not clips:
        raise SystemExit(f"no cached detections under {args.results}/eval-*: run btb evaluate first")
    base = load_config(ROOT / "config" / "config.yaml")["merge"]
    holds = args.size_hold or [base["temporal"].get("size_hold", 0)]
    bridges = args.bridge_gap or [base["temporal"].get("bridge_gap", 0)]
    dists = args.bridge_distance or [base["temporal"].get("bridge_distance", 3.0)]
    dips = args.size_dip or [base["temporal"].get("size_dip", 0.1)]
    conts = args.continue_yunet or [base["temporal"].get("continue_thresholds", {}).get("yunet", 1.0)]
    print("| max_gap | extend | enlarge | size_hold | size_dip | bridge_gap | bridge_distance | continue (YuNet) | "
          "group | method | rec@0.8 | rec@0.5 | exposed | blur ratio |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    for gap, ext, enl, hold, dip, bridge, dist, cont in itertools.product(
            args.max_gap, args.extend, args.enlarge, holds, dips, bridges, dists, conts):
        merge = copy.deepcopy(base)
        merge["temporal"].update(max_gap=gap, extend=ext, size_hold=hold, size_dip=dip, bridge_gap=bridge,
                                 bridge_distance=dist, continue_thresholds={"yunet": cont})
        merge["enlarge"] = enl
        for group, figs in evaluate_videos(clips, merge, only=args.methods)["groups"].items():
            for m in args.methods:
                u = figs[m]
                print(f"| {gap} | {ext} | {enl} | {hold} | {dip} | {bridge} | {dist} | {cont} | {group} | {m} | "
                      f"{u['recall_at_0_8']:.3f} | {u['recall_at_0_5']:.3f} | {u['exposed_frames']} | "
                      f"{u['blur_area_ratio']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
