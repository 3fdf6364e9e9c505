"""Head-pose accuracy of the features (btb.features.headpose) on pictures of a real face at known poses.

    .venv/bin/python benchmarks/headpose_accuracy.py --models MODELS_DIR [--detector retinaface] [--face mesh]

``--face mesh`` (the default) turns the demo's face photograph on its own 3-D face mesh, like a head; ``flat``
turns it as a flat picture (exact for roll only). The mesh comes from MediaPipe's Face Mesh model, staged into
MODELS_DIR from the pinned mediapipe wheel (or BTB_MODEL_MIRROR) on first use.
Writes benchmarks/results/headpose_<detector>_<face>.json (the summary by angle and range, the estimate on the
unturned picture, and every picture's row). See btb.evaluation.headpose and btb.evaluation.facemesh.
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
    ap.add_argument("--detector", default="retinaface", help="face detector whose landmarks are fitted")
    ap.add_argument("--face", choices=("mesh", "flat"), default="mesh", help="the face turned (see above)")
    ap.add_argument("--out", help="result file (default benchmarks/results/headpose_<detector>_<face>.json)")
    args = ap.parse_args()

    from btb.config import load_config
    from btb.detect.factory import make_detector
    from btb.detect.registry import DETECTORS
    from btb.evaluation.headpose import measure, mesh_pictures, posed_picture, summarise
    from btb.models.sources import SOURCES
    from btb.models.staging import mirror_from_env, stage_model, verify_model

    options = load_config(REPO / "config" / "config.yaml")["detect"][args.detector]
    det = make_detector(args.detector, DETECTORS[args.detector].model_path(args.models, options), options, 1, "cpu")
    picture = posed_picture
    if args.face == "mesh":
        facemesh = Path(args.models) / SOURCES["facemesh_landmark"].filename
        if facemesh.is_file():
            verify_model("facemesh_landmark", facemesh)
        else:
            stage_model("facemesh_landmark", facemesh, mirror_from_env(None))
        picture = mesh_pictures(facemesh)

    def landmarks_of(img: np.ndarray) -> np.ndarray | None:
        found = det.detect(img)
        if not len(found):
            return None
        return found.landmarks[int(np.argmax(found.scores))].reshape(5, 2)

    rows = measure(landmarks_of, picture=picture)
    summary = summarise(rows)
    unturned = {k: round(v, 2) for k, v in rows.attrs["unturned"].items()}
    out = Path(args.out or REPO / "benchmarks" / "results" / f"headpose_{args.detector}_{args.face}.json")
    out.write_text(json.dumps({"detector": args.detector, "face": args.face, "unturned_estimate_deg": unturned,
                               "summary": summary, "rows": rows.round(3).to_dict("records")}, indent=1) + "\n")
    print(f"unturned picture reads yaw {unturned['yaw']}, pitch {unturned['pitch']}, roll {unturned['roll']} deg")
    for key, v in summary.items():
        print(f"{key:<14} {v['found']}/{v['pictures']} found, mean |error| {v['mean_abs_error_deg']} deg, "
              f"max {v['max_abs_error_deg']}, bias {v['bias_deg']}")


if __name__ == "__main__":
    main()
