"""deface scored with this project's privacy metric on the labeled clips (``../shared/eval/video``).

deface 1.5.0 at its defaults: CenterFace at threshold 0.2, mask scale 1.3, the ellipse it paints inside each
box. ``deface_detect.py`` runs in deface's own virtual environment and records, per frame, the boxes that
deface's own ``anonymize_frame`` hands to its painter (nothing is re-implemented on that side); this script
scores them with ``btb.evaluation.metrics`` (coverage >= 0.8 protects a face, exposed frames, blur-area
ratio; pooled per
clip group as ``btb evaluate`` does) in two variants:

* ``as_painted``: the pixels deface actually blurs, the ellipse ``skimage.draw.ellipse(h // 2, w // 2, h // 2,
  w // 2)`` inside each box (deface's ``draw_det``);
* ``box``: the whole box (deface ``--boxes``).

Run from the repository root (the command behind benchmarks/results/deface_recall.json):

    .venv/bin/python benchmarks/deface_recall.py --deface /work/deface-venv/bin/deface

It prints a Markdown table with, for reference, this pipeline's figures from the committed evaluation report
(``--ours``). deface's boxes are cached (``--boxes``, outside the repository: they are face positions in
licensed clips); ``--rescore`` scores the cached boxes again without running CenterFace.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from deface_tool import HERE, add_deface_option, cache_dir, deface_executable, deface_info, deface_python

from btb.evaluation.methods import clip_group, read_video_gt
from btb.evaluation.metrics import face_coverages, pool, summarise
from btb.stages.evaluate import clean

ROOT = HERE.parent
VARIANTS = ("as_painted", "box")


def deface_mask(height: int, width: int, regions: pd.DataFrame) -> np.ndarray:
    """The pixels deface 1.5.0 blurs for these boxes: in each box ``frame[y:y+h, x:x+w]`` the pixels of
    ``skimage.draw.ellipse(h // 2, w // 2, h // 2, w // 2)`` (as in deface's ``draw_det``)."""
    from skimage.draw import ellipse

    mask = np.zeros((height, width), dtype=bool)
    for x, y, w, h in regions[["x", "y", "w", "h"]].itertuples(index=False):
        if h // 2 > 0 and w // 2 > 0:
            ey, ex = ellipse(h // 2, w // 2, h // 2, w // 2)
            mask[y : y + h, x : x + w][ey, ex] = True
    return mask


def region_table(boxes: list[list[float]]) -> pd.DataFrame:
    """deface's painted boxes (frame, x1, y1, x2, y2, score) as a region table (x, y, w, h, shape 'box')."""
    b = pd.DataFrame(boxes, columns=["frame_index", "x1", "y1", "x2", "y2", "score"])
    return pd.DataFrame({"frame_index": b["frame_index"].astype("int64"), "x": b["x1"].astype("int64"),
                         "y": b["y1"].astype("int64"), "w": (b["x2"] - b["x1"]).astype("int64"),
                         "h": (b["y2"] - b["y1"]).astype("int64"), "shape": "box", "score": b["score"]})


def score(detections: dict[str, Any], eval_dir: Path) -> dict[str, Any]:
    covs: dict[str, dict[str, pd.DataFrame]] = {v: {} for v in VARIANTS}
    per_clip: dict[str, Any] = {}
    for name, c in sorted(detections["clips"].items()):
        gt = read_video_gt(eval_dir / f"{name}_gt.csv")
        if len(gt) != c["frames"]:
            print(f"warning: {name}: deface read {c['frames']} frames, the ground truth lists {len(gt)}",
                  file=sys.stderr)
        regions = region_table(c["boxes"])
        h, w = c["height"], c["width"]
        covs["as_painted"][name] = face_coverages(gt, regions, h, w, mask_of=deface_mask)
        covs["box"][name] = face_coverages(gt, regions, h, w)
        per_clip[name] = {"frames": c["frames"], "width": w, "height": h, "boxes": len(c["boxes"]),
                          "centerface_ms_per_frame": 1000 * c["detect_seconds"] / max(c["frames"], 1),
                          **{v: summarise(covs[v][name]) for v in VARIANTS}}
    groups: dict[str, list[str]] = {}
    for name in per_clip:
        groups.setdefault(clip_group(name), []).append(name)
    return {"clips": per_clip,
            "groups": {g: {"clips": names, **{v: pool({n: covs[v][n] for n in names}) for v in VARIANTS}}
                       for g, names in sorted(groups.items())},
            "all": {v: pool(covs[v]) for v in VARIANTS}}


def ours(report: Path) -> dict[str, Any] | None:
    """This pipeline's per-group figures (union, cascade) from a ``btb evaluate`` report.json, if there is one."""
    if not report.is_file():
        return None
    doc = json.loads(report.read_text())
    for entry in doc["results"]:
        if "groups" in entry:
            return {"report": str(report), "created_utc": doc.get("created_utc"),
                    "groups": {g: {m: figs[m] for m in ("union", "cascade")} for g, figs in entry["groups"].items()}}
    return None


def table(result: dict[str, Any], reference: dict[str, Any] | None) -> str:
    lines = ["| method | group | rec@0.8 | rec@0.5 | exposed frames | labeled faces | blur-area ratio |",
             "|---|---|---:|---:|---:|---:|---:|"]

    def row(method: str, group: str, s: dict[str, Any]) -> str:
        return (f"| {method} | {group} | {s['recall_at_0_8']:.3f} | {s['recall_at_0_5']:.3f} | {s['exposed_frames']} "
                f"| {s['labeled_faces']} | {s['blur_area_ratio']:.2f} |")

    for group, figs in result["groups"].items():
        lines += [row(f"deface {v.replace('_', ' ')}", group, figs[v]) for v in VARIANTS]
        if reference and group in reference["groups"]:
            lines += [row(f"btb {m} (evaluation report)", group, s) for m, s in reference["groups"][group].items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_deface_option(ap)
    ap.add_argument("--eval-dir", type=Path, default=ROOT.parent / "shared" / "eval" / "video")
    ap.add_argument("--clips", nargs="*", help="clip names (stems) to score; default every *_gt.csv clip")
    ap.add_argument("--boxes", type=Path, default=cache_dir() / "deface_boxes.json",
                    help="deface's per-frame boxes (written by the detection step, read by --rescore)")
    ap.add_argument("--rescore", action="store_true", help="score the cached --boxes; do not run CenterFace")
    ap.add_argument("--ours", type=Path, default=ROOT / "benchmarks" / "results" / "evaluation" / "report.json")
    ap.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results" / "deface_recall.json")
    args = ap.parse_args(argv)

    videos = sorted(p.with_name(p.name.removesuffix("_gt.csv") + ".mp4") for p in args.eval_dir.glob("*_gt.csv"))
    if args.clips:
        videos = [v for v in videos if v.stem in set(args.clips)]
    if not videos:
        raise SystemExit(f"no labeled clips (*_gt.csv + .mp4) in {args.eval_dir}")
    exe = deface_executable(args.deface)
    info = deface_info(exe)
    seconds = None
    if not args.rescore:
        cmd = [str(deface_python(exe)), str(HERE / "deface_detect.py"), "--out", str(args.boxes),
               *map(str, videos)]
        print(" ".join(cmd), file=sys.stderr)
        t0 = time.perf_counter()
        subprocess.run(cmd, check=True)
        seconds = time.perf_counter() - t0
    detections = json.loads(args.boxes.read_text())
    missing = [v.stem for v in videos if v.stem not in detections["clips"]]
    if missing:
        raise SystemExit(f"{args.boxes} has no boxes for {missing}: run without --rescore")
    detections["clips"] = {v.stem: detections["clips"][v.stem] for v in videos}
    result = score(detections, args.eval_dir)
    reference = ours(args.ours)
    print(table(result, reference))
    doc = {"deface": info, "settings": {k: detections[k] for k in ("backend", "threshold", "mask_scale")},
           "eval_dir": str(args.eval_dir), "detection_wall_s": seconds, "command": [Path(sys.argv[0]).name,
                                                                                   *sys.argv[1:]],
           **result, "btb_reference": reference}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(clean(doc), indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
