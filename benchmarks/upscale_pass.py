"""An upscaled detector pass for small faces on WIDER FACE: the recall it adds, the blur it costs, its time.

The detectors' smallest anchors are about 10-16 px, so faces of 10-40 px are found poorly. This runs a
detector once more on each image enlarged ``--factor`` times (boxes mapped back), merges that pass with the
cached full-size detections exactly as the detectors merge their own passes (non-maximum suppression at the
detector's IoU), and scores union with and without it, and union3 (CenterFace at ``--cf-threshold``) with
and without YuNet's pass. Needs the detection tables that
``btb evaluate --configfile config/evaluate_shared.yaml`` leaves in results/eval/<set>/:

    .venv/bin/python benchmarks/upscale_pass.py --out benchmarks/results/upscale_pass.json

The upscaled detections are cached in ~/.cache/btb-benchmarks/upscale/ (delete to re-detect).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd
import yaml
from snakemake.utils import update_config

from btb.config import load_config
from btb.detect.factory import make_detector
from btb.evaluation import wider
from btb.evaluation.methods import LabeledImages, image_method_regions
from btb.regions.boxes import nms
from btb.regions.tables import concat_detections, detections_frame, read_detections, write_detections
from btb.video.image import read_image

ROOT = Path(__file__).resolve().parents[1]
CACHE = Path.home() / ".cache" / "btb-benchmarks" / "upscale"
MODELS = {"yunet": "face_detection_yunet_2023mar.onnx", "retinaface": "retinaface_mnv2_floor0.05.onnx"}
NMS_IOU = {"yunet": 0.3, "retinaface": 0.4}  # each detector's own multi-pass NMS (btb.detect)


def upscaled_table(set_name: str, image_dir: Path, images: list[str], detector: str, cfg: dict[str, Any],
                   factor: float, threads: int) -> tuple[pd.DataFrame, float]:
    """The detector's detections on every image enlarged ``factor`` times (boxes in original pixels), and
    the seconds spent (resize + detection)."""
    table = CACHE / f"{set_name}.{detector}.x{factor:g}.parquet"
    meta = table.with_suffix(".json")
    if table.is_file() and meta.is_file():
        return read_detections(table), json.loads(meta.read_text())["seconds"]
    # the one upscaled pass: no downscaled pass on top
    det = make_detector(detector, str(ROOT / "resources" / "models" / MODELS[detector]),
                        {**cfg, "downscaled_long_side": 0}, threads, "cpu")
    parts, spent = [], 0.0
    for i, name in enumerate(images):
        image = read_image(image_dir / name)
        t = time.perf_counter()
        big = cv2.resize(image, None, fx=factor, fy=factor, interpolation=cv2.INTER_LINEAR)
        d = det.detect(big)
        spent += time.perf_counter() - t
        parts.append(detections_frame(i, detector, d.boxes / factor, d.scores, d.landmarks / factor,
                                      np.full(len(d), factor)))
    CACHE.mkdir(parents=True, exist_ok=True)
    out = concat_detections(parts)
    write_detections(out, table)
    meta.write_text(json.dumps({"seconds": spent, "images": len(images), "factor": factor}))
    return out, spent


def with_pass(base: pd.DataFrame, extra: pd.DataFrame, iou: float) -> pd.DataFrame:
    """Per image, the base and upscaled detections together after non-maximum suppression."""
    both = pd.concat([base, extra], ignore_index=True)
    keep = []
    for _, g in both.groupby("frame_index", sort=False):
        idx = g.index.to_numpy()
        keep.extend(idx[nms(g[["x", "y", "w", "h"]].to_numpy(), g["score"].to_numpy(), iou)])
    return both.loc[sorted(keep)].reset_index(drop=True)


def figures(s: LabeledImages, merge: dict[str, Any], method: str = "union",
            thresholds: dict[str, float] | None = None) -> dict[str, Any]:
    regions, _ = image_method_regions(s, merge, thresholds=thresholds, only=[method])
    sc = wider.score_images(s.gt, regions[method], s.sizes)
    bands = wider.recall_by_size(sc["faces"]).to_dict("records")
    return {"recall_at_0_8": sc["all"]["recall_at_0_8"], "recall_at_0_8_min_side": sc["min_side"]["recall_at_0_8"],
            "blur_area_ratio": sc["all"]["blur_area_ratio"],
            "share_regions_touching_no_face": sc["share_regions_touching_no_face"], "recall_by_size": bands}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sets", type=Path, default=ROOT / "config" / "evaluate_shared.yaml",
                    help="YAML whose evaluate.image_sets lists the labeled image sets")
    ap.add_argument("--factor", type=float, default=2.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--cf-threshold", type=float, default=0.05,
                    help="CenterFace's threshold in the union3 variants (its cached table from btb evaluate)")
    ap.add_argument("--out", type=Path, required=True)
    args = ap.parse_args()
    config = load_config(ROOT / "config" / "config.yaml")
    update_config(config, yaml.safe_load(args.sets.read_text()))
    merge = config["merge"]
    report: dict[str, Any] = {"factor": args.factor, "threads": args.threads, "sets": {},
                              "git_commit": subprocess.run(["git", "rev-parse", "HEAD"], cwd=ROOT, text=True,
                                                           capture_output=True).stdout.strip()}
    for spec in config["evaluate"]["image_sets"]:
        folder = ROOT / "results" / "eval" / spec["name"]
        meta = json.loads((folder / "yunet.json").read_text())
        images = meta["images"]
        base = {d: read_detections(folder / f"{d}.parquet") for d in MODELS}
        base_seconds = {d: json.loads((folder / f"{d}.json").read_text())["seconds"] for d in MODELS}
        sizes = {k: (int(v[0]), int(v[1])) for k, v in meta["sizes"].items()}
        gt = wider.read_wider_gt(ROOT / spec["gt"])
        up, up_seconds = {}, {}
        for d in MODELS:
            up[d], up_seconds[d] = upscaled_table(spec["name"], ROOT / spec["images"], images, d,
                                                  config["detect"][d], args.factor, args.threads)
        yunet_up = with_pass(base["yunet"], up["yunet"], NMS_IOU["yunet"])
        variants = {"none": base, "yunet": {**base, "yunet": yunet_up},
                    "both": {d: with_pass(base[d], up[d], NMS_IOU[d]) for d in MODELS}}
        out = {"images": len(images), "seconds_full_size": base_seconds, "seconds_upscaled": up_seconds,
               "union": {}, "union3": {}, "centerface_threshold": args.cf_threshold}
        for name, tables in variants.items():
            s = LabeledImages(spec["name"], images, gt, tables, sizes, {})
            out["union"][name] = figures(s, merge)
        # with CenterFace (its cached table) at a low threshold, with and without YuNet's upscaled pass
        cf_table = folder / "centerface.parquet"
        if cf_table.is_file():
            cf = read_detections(cf_table)
            thr = {**merge["thresholds"], "centerface": args.cf_threshold}
            for name, tables in {"none": {**base, "centerface": cf},
                                 "yunet": {**base, "yunet": yunet_up, "centerface": cf}}.items():
                s = LabeledImages(spec["name"], images, gt, tables, sizes, {})
                out["union3"][name] = figures(s, merge, "union3", thr)
        for method in ("union", "union3"):
            for name, f in out[method].items():
                print(f"{spec['name']} {method} upscaled pass {name}: recall@0.8 all {f['recall_at_0_8']:.3f}, "
                      f">= 20 px {f['recall_at_0_8_min_side']:.3f}, blur ratio {f['blur_area_ratio']:.2f}",
                      flush=True)
        report["sets"][spec["name"]] = out
    args.out.write_text(json.dumps(report, indent=1, default=float) + "\n")


if __name__ == "__main__":
    main()
