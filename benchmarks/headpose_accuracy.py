"""Head-pose accuracy of the features (btb.features.headpose) on pictures of a real face at known poses.

    .venv/bin/python benchmarks/headpose_accuracy.py --models MODELS_DIR [--detector yunet]

Writes benchmarks/results/headpose.json (the summary by angle and range, and every picture's row).
See btb.evaluation.headpose for how the pictures are made and what the yaw and pitch figures mean.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", required=True, help="staged models folder (models.dir of a run)")
    ap.add_argument("--detector", default="yunet", help="face detector whose landmarks are fitted")
    ap.add_argument("--out", default=str(REPO / "benchmarks" / "results" / "headpose.json"))
    args = ap.parse_args()

    from btb.config import load_config
    from btb.detect.factory import make_detector
    from btb.detect.registry import DETECTORS
    from btb.evaluation.headpose import measure, summarise

    options = load_config(REPO / "config" / "config.yaml")["detect"][args.detector]
    det = make_detector(args.detector, DETECTORS[args.detector].model_path(args.models, options), options, 1, "cpu")

    def landmarks_of(img: np.ndarray) -> np.ndarray | None:
        found = det.detect(img)
        if not len(found):
            return None
        return found.landmarks[int(np.argmax(found.scores))].reshape(5, 2)

    rows = measure(landmarks_of)
    summary = summarise(rows)
    Path(args.out).write_text(json.dumps({"detector": args.detector, "summary": summary,
                                          "rows": rows.round(3).to_dict("records")}, indent=1) + "\n")
    for key, v in summary.items():
        print(f"{key:<14} {v['found']}/{v['pictures']} found, mean |error| {v['mean_abs_error_deg']} deg, "
              f"max {v['max_abs_error_deg']}, bias {v['bias_deg']}")


if __name__ == "__main__":
    main()
