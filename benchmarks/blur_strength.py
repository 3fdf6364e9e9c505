"""How strong the blur must be: the detectors run on real faces blurred at each ``blur.detail``, per method.

Every labeled face of a WIDER FACE set whose shorter side is at least ``--min-side`` px (large enough to be
recognisable unblurred) is blurred in place exactly as the pipeline blurs it (its box enlarged by
``merge.enlarge``, ``btb.regions.blur.blur_frame``), and YuNet and RetinaFace then look for a face there at
a low score. A face a detector still finds after blurring is a face whose structure survived; recognising a
person needs more detail than detecting a face, so this is a conservative proxy for recognisability. The
share of faces found again, per method and detail, justifies the schema's maximum ``blur.detail`` and the
score at which residual verification calls a face found inside the blur "not blurred enough".

    .venv/bin/python benchmarks/blur_strength.py --out benchmarks/results/blur_strength.json

Needs the staged models (./btb run once) and the WIDER subset of ../shared/eval (research use only; no image
is written anywhere).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pandas as pd

from btb.config import defaults
from btb.detect.factory import make_detector
from btb.detect.registry import DETECTORS
from btb.evaluation.wider import read_wider_gt, valid_faces
from btb.regions.blur import BlurParams, blur_frame
from btb.regions.boxes import clip_to_frame, iou_matrix, scale_about_centre, to_int_pixels
from btb.video.image import read_image

ROOT = Path(__file__).resolve().parents[1]
SHARED = ROOT.parent / "shared" / "eval" / "wider"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--gt", type=Path, default=SHARED / "wider_face_train_bbx_gt.txt")
    ap.add_argument("--images", type=Path, default=SHARED / "WIDER_train" / "images")
    ap.add_argument("--models", type=Path, default=ROOT / "resources" / "models")
    ap.add_argument("--min-side", type=float, default=40.0)
    ap.add_argument("--max-images", type=int, default=120)
    ap.add_argument("--details", type=int, nargs="+", default=[0, 4, 6, 8, 10, 12, 16, 24, 32],
                    help="0: not blurred (the detectors' reach on these faces)")
    ap.add_argument("--methods", nargs="+", default=["gaussian", "pixelate"])
    ap.add_argument("--scores", type=float, nargs="+", default=[0.3, 0.5, 0.7, 0.9])
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cfg = defaults()
    detectors = {name: make_detector(name, DETECTORS[name].model_path(str(args.models), cfg["detect"][name]),
                                     cfg["detect"][name], 2, "cpu") for name in ("yunet", "retinaface")}
    gt = read_wider_gt(args.gt)
    rows = []
    used = 0
    for name, table in gt.items():
        faces = table[valid_faces(table) & (np.minimum(table["w"], table["h"]) >= args.min_side)]
        if faces.empty:
            continue
        image = read_image(args.images / name)
        h, w = image.shape[:2]
        boxes = faces[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
        enlarged = to_int_pixels(clip_to_frame(scale_about_centre(boxes, cfg["merge"]["enlarge"]), w, h), w, h)
        regions = pd.DataFrame({"x": enlarged[:, 0], "y": enlarged[:, 1], "w": enlarged[:, 2], "h": enlarged[:, 3],
                                "shape": "box"})
        for method in args.methods:
            for detail in args.details:
                blurred = image if detail == 0 else blur_frame(image, regions, BlurParams(method=method, detail=detail))
                for det_name, det in detectors.items():
                    found = det.detect(blurred)
                    iou = iou_matrix(boxes, found.boxes) if len(found) else np.zeros((len(boxes), 0))
                    for i in range(len(boxes)):
                        hit = found.scores[iou[i] >= 0.3] if iou.shape[1] else np.zeros(0)
                        rows.append((method, detail, det_name, float(hit.max()) if len(hit) else 0.0))
        used += 1
        if used >= args.max_images:
            break
    df = pd.DataFrame(rows, columns=["method", "detail", "detector", "best_score"])
    summary = []
    for (method, detail, det_name), g in df.groupby(["method", "detail", "detector"]):
        summary.append({"method": method, "detail": int(detail), "detector": det_name, "faces": len(g),
                        **{f"found_at_{s}": round(float((g.best_score >= s).mean()), 4) for s in args.scores}})
    print("| method | detail | detector | faces | " + " | ".join(f"found ≥ {s}" for s in args.scores) + " |")
    print("|---" * (4 + len(args.scores)) + "|")
    for r in summary:
        print(f"| {r['method']} | {r['detail']} | {r['detector']} | {r['faces']} | "
              + " | ".join(f"{r[f'found_at_{s}']:.3f}" for s in args.scores) + " |")
    if args.out:
        args.out.write_text(json.dumps({"images": used, "min_side": args.min_side, "summary": summary}, indent=1)
                            + "\n")


if __name__ == "__main__":
    main()
