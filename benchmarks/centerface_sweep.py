"""CenterFace's threshold and an extra enlargement of its boxes, re-scored from cached detections (no detection).

Needs the tables that `btb evaluate --configfile config/evaluate_shared.yaml` leaves in results/eval-<clip>/
(labeled clips) and results/eval/<set>/ (image sets). Each CenterFace box is scaled about its centre by
``--cf-scale`` before merging (so the region is ``merge.enlarge`` x that, and it fuses with the other
detectors' boxes as a larger box), at each ``--cf-threshold``; the other detectors keep the defaults of
config/config.yaml. Prints, per setting and method, recall@0.8 / recall@0.5, exposed frames and the blur-area
ratio per clip group, and recall@0.8 (all faces, faces >= 20 px) and the blur-area ratio per image set:

    .venv/bin/python benchmarks/centerface_sweep.py --cf-threshold 0.1 0.2 0.3 --cf-scale 1.0 1.15 1.23 1.3 \\
        --methods centerface union3 cascade3 cascade3_cf_all --out benchmarks/results/centerface_sweep.json
"""

from __future__ import annotations

import argparse
import copy
import itertools
import json
from pathlib import Path

import pandas as pd
import yaml

from btb.config import load_config
from btb.evaluation import wider
from btb.evaluation.methods import LabeledClip, LabeledImages, image_method_regions, method_regions, read_video_gt
from btb.evaluation.metrics import face_coverages, pool
from btb.regions.boxes import scale_about_centre
from btb.regions.tables import read_detections

ROOT = Path(__file__).resolve().parents[1]
DETECTORS = ("yunet", "retinaface", "centerface")


def load_clips(results: Path, eval_dir: Path) -> list[LabeledClip]:
    clips = []
    for d in sorted(results.glob("eval-*")):
        name = d.name.removeprefix("eval-")
        probe = json.loads((d / "probe.json").read_text())
        tables = {"yunet": read_detections(d / "detections" / "yunet.parquet")}
        tables |= {k: read_detections(d / "detections" / f"{k}_all.parquet") for k in DETECTORS[1:]}
        clips.append(LabeledClip(name, read_video_gt(eval_dir / f"{name}_gt.csv"), tables,
                                 len(pd.read_csv(d / "frames.tsv", sep="\t")), int(probe["width"]),
                                 int(probe["height"]), {}))
    return clips


def load_image_sets(results: Path, config: dict) -> list[LabeledImages]:
    sets = []
    for s in config["evaluate"]["image_sets"]:
        folder = results / "eval" / s["name"]
        if not all((folder / f"{d}.parquet").is_file() for d in DETECTORS):
            continue
        meta = json.loads((folder / "yunet.json").read_text())
        sets.append(LabeledImages(
            s["name"], meta["images"], wider.read_wider_gt(ROOT / s["gt"]),
            {d: read_detections(folder / f"{d}.parquet") for d in DETECTORS},
            {k: (int(v[0]), int(v[1])) for k, v in meta["sizes"].items()}, {}))
    return sets


def scaled(tables: dict[str, pd.DataFrame], factor: float) -> dict[str, pd.DataFrame]:
    if factor == 1.0:
        return tables
    cf = tables["centerface"].copy()
    cf[["x", "y", "w", "h"]] = scale_about_centre(cf[["x", "y", "w", "h"]].to_numpy(), factor)
    return {**tables, "centerface": cf}


def video_figures(clips: list[LabeledClip], merge: dict, methods: list[str], factor: float) -> dict:
    cov: dict[str, dict[str, dict[str, pd.DataFrame]]] = {}
    for c in clips:
        regions, _ = method_regions(scaled(c.tables, factor), c.n_frames, c.width, c.height, merge, methods=methods)
        group = f"{c.name.split('_', 1)[0]}_*" if "_" in c.name else c.name
        for m in methods:
            cov.setdefault(group, {}).setdefault(m, {})[c.name] = face_coverages(c.gt, regions[m], c.height, c.width)
    out = {}
    for group, by_method in cov.items():
        for m, covs in by_method.items():
            p = pool(covs)
            out[f"{group}/{m}"] = {k: p[k] for k in ("recall_at_0_8", "recall_at_0_5", "exposed_frames",
                                                     "blur_area_ratio")}
    return out


def image_figures(s: LabeledImages, merge: dict, methods: list[str], factor: float) -> dict:
    labeled = LabeledImages(s.name, s.images, s.gt, scaled(s.tables, factor), s.sizes, {})
    regions, _ = image_method_regions(labeled, merge)
    out = {}
    for m in methods:
        sc = wider.score_images(s.gt, regions[m], s.sizes)
        out[f"{s.name}/{m}"] = {"recall_at_0_8": sc["all"]["recall_at_0_8"],
                                "recall_at_0_8_min_side": sc["min_side"]["recall_at_0_8"],
                                "blur_area_ratio": sc["all"]["blur_area_ratio"]}
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval" / "video")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--config", nargs="+", type=Path,
                    default=[ROOT / "config" / "config.yaml", ROOT / "config" / "evaluate_shared.yaml"])
    ap.add_argument("--cf-threshold", type=float, nargs="+", default=[0.2])
    ap.add_argument("--cf-scale", type=float, nargs="+", default=[1.0])
    ap.add_argument("--methods", nargs="+", default=["centerface", "union3"])
    ap.add_argument("--no-images", action="store_true", help="score the labeled clips only")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    config = load_config(args.config[0])
    for extra in args.config[1:]:
        config |= yaml.safe_load(extra.read_text())
    clips = load_clips(args.results, args.eval_dir)
    sets = [] if args.no_images else load_image_sets(args.results, config)
    if not clips and not sets:
        raise SystemExit(f"no cached detections under {args.results}: run btb evaluate first")
    rows = []
    print("| CF threshold | CF box scale | set/method | rec@0.8 | rec@0.5 or rec@0.8 ≥20 px | exposed | blur ratio |")
    print("|---|---|---|---|---|---|---|")
    for thr, factor in itertools.product(args.cf_threshold, args.cf_scale):
        merge = copy.deepcopy(config["merge"])
        merge["thresholds"]["centerface"] = thr
        figs = video_figures(clips, merge, args.methods, factor) if clips else {}
        for s in sets:
            figs |= image_figures(s, merge, args.methods, factor)
        for key, f in figs.items():
            rows.append({"cf_threshold": thr, "cf_scale": factor, "key": key, **f})
            second = f.get("recall_at_0_5", f.get("recall_at_0_8_min_side"))
            print(f"| {thr} | {factor} | {key} | {f['recall_at_0_8']:.3f} | {second:.3f} | "
                  f"{f.get('exposed_frames', '—')} | {f['blur_area_ratio']:.2f} |", flush=True)
    if args.out:
        args.out.write_text(json.dumps({"config_merge": config["merge"], "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
