"""Residual-verification flags per detector and score on blurred labeled clips: how many a verification
threshold would raise, and whether they lie on the labeled face (a face left exposed) or elsewhere.

Needs the cached tables of `btb evaluate --configfile config/evaluate_shared.yaml` (results/eval-<clip>/).
Each clip's frames are decoded, blurred in memory with the regions of ``--method`` (default config, all three
detectors' tables) exactly as ``blur_frames`` paints them (no encoding, nothing written), and every detector
runs on the blurred frame with a low floor; a detection less than ``verify.min_covered`` inside the blur is a
flag, as in ``verify_residual``. Prints flags per detector at each threshold, split into those whose box
overlaps the labeled face (IoU >= 0.3: the labeled face, blurred or not) and the rest:

    .venv/bin/python benchmarks/verify_flags.py --method union3 --out benchmarks/results/verify_flags.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from btb.config import load_config
from btb.detect.factory import make_detector
from btb.evaluation.methods import method_regions, read_video_gt
from btb.regions.blur import BlurParams, blur_frame
from btb.regions.boxes import iou_matrix
from btb.regions.tables import read_detections
from btb.release.residual import ResidualParams, flags_in_frame
from btb.video.frames import iter_normalised

ROOT = Path(__file__).resolve().parents[1]
THRESHOLDS = (0.15, 0.2, 0.3, 0.4, 0.5, 0.6)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval" / "video")
    ap.add_argument("--results", type=Path, default=ROOT / "results")
    ap.add_argument("--models", type=Path, default=ROOT / "resources" / "models")
    ap.add_argument("--method", default="union3")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cfg = load_config(ROOT / "config" / "config.yaml")
    det_cfg = {**cfg["detect"], "centerface": {**cfg["detect"]["centerface"], "enabled": True}}
    models = {"yunet": args.models / "face_detection_yunet_2023mar.onnx",
              "retinaface": args.models / f"retinaface_mnv2_floor{det_cfg['retinaface']['score_floor']}.onnx",
              "centerface": args.models / "centerface_dynamic.onnx"}
    detectors = {d: make_detector(d, str(p), det_cfg[d], 1, "cpu") for d, p in models.items()}
    floor = ResidualParams({d: min(THRESHOLDS) for d in detectors}, cfg["verify"]["min_covered"])
    bp = BlurParams(method=cfg["blur"]["method"], detail=cfg["blur"]["detail"])
    rows = []
    for d in sorted(args.results.glob("eval-*")):
        name = d.name.removeprefix("eval-")
        probe = json.loads((d / "probe.json").read_text())
        w, h = int(probe["width"]), int(probe["height"])
        n = len(pd.read_csv(d / "frames.tsv", sep="\t"))
        tables = {"yunet": read_detections(d / "detections" / "yunet.parquet")}
        tables |= {k: read_detections(d / "detections" / f"{k}_all.parquet") for k in ("retinaface", "centerface")}
        regions = method_regions(tables, n, w, h, cfg["merge"], methods=[args.method])[0][args.method]
        by_frame = {int(k): g for k, g in regions.groupby("frame_index")}
        gt = read_video_gt(args.eval_dir / f"{name}_gt.csv")
        gt = {int(r.frame_index): np.array([[r.x, r.y, r.w, r.h]]) for r in gt[gt["labeled"] == 1].itertuples()}
        empty = regions.iloc[0:0]
        for f in iter_normalised(str(args.eval_dir / f"{name}.mp4")):
            regs = by_frame.get(f.index, empty)
            image = blur_frame(f.image, regs, bp) if len(regs) else f.image
            found = {k: det.detect(image) for k, det in detectors.items()}
            for fi, detector, score, x, y, bw, bh, cov in flags_in_frame(f.index, image.shape, regs, found, floor):
                on_face = f.index in gt and iou_matrix(np.array([[x, y, bw, bh]]), gt[f.index])[0, 0] >= 0.3
                rows.append({"clip": name, "frame": fi, "detector": detector, "score": score, "covered": cov,
                             "on_labeled_face": bool(on_face)})
        print(f"{name}: {sum(r['clip'] == name for r in rows)} flags at the floor", flush=True)
    flags = pd.DataFrame(rows, columns=["clip", "frame", "detector", "score", "covered", "on_labeled_face"])
    table = []
    for det in detectors:
        for t in THRESHOLDS:
            sel = flags[(flags["detector"] == det) & (flags["score"] >= t)]
            table.append({"detector": det, "threshold": t, "flags": len(sel),
                          "frames_flagged": int(sel[["clip", "frame"]].drop_duplicates().shape[0]),
                          "on_labeled_face": int(sel["on_labeled_face"].sum()),
                          "clips_flagged": int(sel["clip"].nunique())})
    print("| detector | threshold | flags | frames | on the labeled face | clips flagged |")
    print("|---|---|---|---|---|---|")
    for r in table:
        print(f"| {r['detector']} | {r['threshold']} | {r['flags']} | {r['frames_flagged']} | "
              f"{r['on_labeled_face']} | {r['clips_flagged']} |")
    if args.out:
        args.out.write_text(json.dumps({"method": args.method, "merge": cfg["merge"], "verify": cfg["verify"],
                                        "table": table, "flags": flags.to_dict("records")}, indent=1,
                                       default=float) + "\n")


if __name__ == "__main__":
    main()
