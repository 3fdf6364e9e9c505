"""Re-score the evaluation under other settings, from the detections `btb evaluate` cached (no detection).

Run `./btb evaluate --configfile config/evaluate_shared.yaml` once; then every merge, temporal, cascade or
threshold setting can be compared in seconds to minutes:

    .venv/bin/python benchmarks/rescore.py --set merge.temporal.size_hold=0,150,300 --methods union cascade
    .venv/bin/python benchmarks/rescore.py --set merge.enlarge=1.25,1.3 --set merge.temporal.speed_gain=0,1 \\
        --per-clip
    .venv/bin/python benchmarks/rescore.py --images --configfile config/photos.yaml --methods union union3

Each ``--set KEY=V1,V2,...`` varies one dotted configuration key (values read as YAML); every combination
is scored. Keys not given keep their value in config/config.yaml, overlaid by ``--configfile`` files. Clips:
the ``eval-*`` folders under ``--results`` (ground truth from ``--eval-dir`` folders, by default the shared
labeled clips and the synthetic scenes the evaluation made), scored per clip group (and per
clip with ``--per-clip``): recall@0.8 / @0.5, exposed frames, blur-area ratio, the ratio on the labeled face
and the share of blur elsewhere. Image sets (``--images``): every set under ``--results``/eval/, recall@0.8
over all faces and faces >= 20 px, the blur-area ratio and the share of regions touching no face. Methods are
those of ``btb.evaluation.methods.SPECS`` (union, cascade, union3, ...).
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
from pathlib import Path

import yaml

from btb.config import overlay, read_config_file, validate_config
from btb.detect.registry import DETECTORS
from btb.evaluation.methods import LabeledClip, evaluate_videos, read_video_gt
from btb.regions.tables import read_detections
from btb.stages.evaluate import image_figures, load_image_set
from btb.video.frames import read_frame_table

ROOT = Path(__file__).resolve().parents[1]


def table_name(detector: str) -> str:
    return detector if DETECTORS[detector].first_stage else f"{detector}_all"


def ground_truth(name: str, eval_dirs: list[Path]) -> Path:
    for folder in eval_dirs:
        if (folder / f"{name}_gt.csv").exists():
            return folder / f"{name}_gt.csv"
    raise SystemExit(f"no ground truth {name}_gt.csv in {', '.join(map(str, eval_dirs))} (--eval-dir)")


def load_clips(results: Path, eval_dirs: list[Path]) -> list[LabeledClip]:
    clips = []
    for d in sorted(results.glob("eval-*")):
        name = d.name.removeprefix("eval-")
        probe = json.loads((d / "probe.json").read_text())
        tables = {det: read_detections(f) for det in DETECTORS
                  if (f := d / "detections" / f"{table_name(det)}.parquet").is_file()}
        clips.append(LabeledClip(name, read_video_gt(ground_truth(name, eval_dirs)), tables,
                                 len(read_frame_table(d / "frames.tsv")), int(probe["width"]), int(probe["height"]),
                                 {}))
    return clips


def image_sets(results: Path, config: dict) -> list:
    sets = []
    for s in config["evaluate"]["image_sets"]:
        folder = results / "eval" / s["name"]
        have = [d for d in DETECTORS if (folder / f"{d}.parquet").is_file()]
        if have:
            sets.append(load_image_set(s["name"], s["gt"], s.get("difficulty", ""),
                                       {d: str(folder / f"{d}.parquet") for d in have},
                                       {d: str(folder / f"{d}.json") for d in have}))
    return sets


def setting(text: str) -> tuple[str, list]:
    key, _, values = text.partition("=")
    if not key or not values:
        raise argparse.ArgumentTypeError(f"--set needs KEY=V1,V2,...: {text!r}")
    return key, [yaml.safe_load(v) for v in values.split(",")]


def with_values(config: dict, values: dict[str, object]) -> dict:
    out = copy.deepcopy(config)
    for key, value in values.items():
        node = out
        *path, last = key.split(".")
        for k in path:
            node = node[k]
        if last not in node:
            raise SystemExit(f"no configuration key {key}")
        node[last] = value
    return validate_config(out, "rescore settings")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--set", dest="settings", type=setting, action="append", default=[],
                    help="KEY=V1,V2,...: a dotted configuration key and the values to score it at")
    ap.add_argument("--configfile", action="append", default=[], help="laid over config/config.yaml")
    ap.add_argument("--methods", nargs="+", default=["union"])
    ap.add_argument("--per-clip", action="store_true", help="a row per clip as well as per clip group")
    ap.add_argument("--images", action="store_true", help="score the image sets instead of the clips")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--eval-dir", type=Path, action="append", help="folder of <clip>_gt.csv files (repeatable)")
    args = ap.parse_args()
    base = read_config_file(ROOT / "config" / "config.yaml")
    for extra in [ROOT / "config" / "evaluate_shared.yaml", *args.configfile]:
        overlay(base, read_config_file(extra))
    base = validate_config(base, "config")
    keys = [k for k, _ in args.settings]
    header = " | ".join(keys) + " | " if keys else ""
    if args.images:
        data = image_sets(args.results, base)
        print(f"| {header}set | method | rec@0.8 | rec@0.8 >= 20 px | blur ratio | regions on no face |")
    else:
        eval_dirs = args.eval_dir or [ROOT.parent / "shared" / "eval" / "video",
                                      args.results.parent / "resources" / "synthetic"]
        data = load_clips(args.results, eval_dirs)
        print(f"| {header}group | method | rec@0.8 | rec@0.5 | exposed | blur ratio | on labeled face | "
              "off-face share |")
    if not data:
        raise SystemExit(f"no cached detections under {args.results}: run ./btb evaluate first")
    print("|---" * (len(keys) + (6 if args.images else 8)) + "|")
    for combo in itertools.product(*(values for _, values in args.settings)):
        config = with_values(base, dict(zip(keys, combo, strict=True)))
        cells = "".join(f"{v} | " for v in combo)
        if args.images:
            for s in data:
                figs = image_figures(s, config["merge"], methods=tuple(args.methods))
                for m, f in figs.items():
                    print(f"| {cells}{s.name} | {m} | {f['recall_at_0_8']:.3f} | {f['recall_at_0_8_min_side']:.3f} | "
                          f"{f['blur_area_ratio']:.3f} | {f['share_regions_touching_no_face']:.3f} |", flush=True)
            continue
        result = evaluate_videos(data, config["merge"], only=args.methods)
        rows = dict(result["groups"])
        if args.per_clip:
            rows |= {name: clip["methods"] for name, clip in result["clips"].items()}
        for group, figs in rows.items():
            for m in (m for m in args.methods if m in figs):
                f = figs[m]
                print(f"| {cells}{group} | {m} | {f['recall_at_0_8']:.3f} | {f['recall_at_0_5']:.3f} | "
                      f"{f['exposed_frames']} | {f['blur_area_ratio']:.3f} | {f['face_blur_area_ratio']:.3f} | "
                      f"{f['off_face_blur_share']:.3f} |", flush=True)


if __name__ == "__main__":
    main()
