"""deface's detections and the exact boxes it paints, per frame, as JSON. Runs in deface's own environment.

Not a btb script: it imports deface only (``deface_recall.py`` runs it with the interpreter of deface's
virtual environment). Frames are read as deface reads them (``imageio.get_reader(path).iter_data()``, RGB);
CenterFace runs as deface builds it (``CenterFace(in_shape=None, backend=...)``, default ``auto``) at the
threshold given (deface's default 0.2); the boxes are those that deface's own ``anonymize_frame`` hands to
its painter at the mask scale given (deface's default 1.3: each side moved out by 0.3 of the box size, then
clipped to the frame): ``draw_det`` is replaced by a recorder, nothing is painted.

    <deface-venv>/bin/python benchmarks/deface_detect.py --out boxes.json clip1.mp4 clip2.mp4 ...

Output: ``{"deface_version", "backend", "threshold", "mask_scale", "clips": {stem: {"path", "frames",
"height", "width", "detect_seconds", "boxes": [[frame_index, x1, y1, x2, y2, score], ...]}}}`` where
``x1, y1, x2, y2`` are the painted box (rows ``y1:y2``, columns ``x1:x2`` of the frame).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import imageio
from deface import __version__
from deface import deface as deface_module
from deface.centerface import CenterFace


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("videos", nargs="+", type=Path)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--thresh", type=float, default=0.2, help="deface's --thresh (default 0.2, as deface)")
    ap.add_argument("--mask-scale", type=float, default=1.3, help="deface's --mask-scale (default 1.3, as deface)")
    ap.add_argument("--backend", default="auto", choices=["auto", "onnxrt", "opencv"])
    args = ap.parse_args()

    centerface = CenterFace(in_shape=None, backend=args.backend)
    painted: list[list[float]] = []

    def record(frame, score, det_idx, x1, y1, x2, y2, **_kw) -> None:  # noqa: ANN001 - deface's draw_det
        painted.append([int(x1), int(y1), int(x2), int(y2), float(score)])

    deface_module.draw_det = record  # anonymize_frame looks draw_det up in its module at call time

    clips = {}
    for path in args.videos:
        reader = imageio.get_reader(str(path))
        rows, n, spent, shape = [], 0, 0.0, (0, 0)
        for index, frame in enumerate(reader.iter_data()):
            t = time.perf_counter()
            dets, _ = centerface(frame, threshold=args.thresh)
            spent += time.perf_counter() - t
            painted.clear()
            deface_module.anonymize_frame(dets, frame, mask_scale=args.mask_scale, replacewith="blur", ellipse=True,
                                          draw_scores=False, replaceimg=None, mosaicsize=20)
            rows += [[index, *box] for box in painted]
            n, shape = index + 1, frame.shape[:2]
        reader.close()
        clips[path.stem] = {"path": str(path), "frames": n, "height": int(shape[0]), "width": int(shape[1]),
                            "detect_seconds": spent, "boxes": rows}
        print(f"{path.name}: {n} frames, {len(rows)} boxes, CenterFace {spent / max(n, 1) * 1000:.1f} ms/frame",
              file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps({"deface_version": __version__, "backend": centerface.backend,
                                    "threshold": args.thresh, "mask_scale": args.mask_scale, "clips": clips}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
