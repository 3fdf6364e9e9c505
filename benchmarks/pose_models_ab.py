"""Two staged head-locator model files compared frame by frame: the same heads, and the time each takes.

Both models are loaded in one process (one thread each, the defaults of ``config/config.yaml``) and run on
every decoded frame in turn, the order alternating from frame to frame, so that a change in the machine's
load hits both alike. Per clip and in all: frames, heads, frames whose heads, scores or landmarks differ at
all (exact comparison), and the mean milliseconds a frame of each model. Used to check that the pruned
landmark model (``btb.models.blazepose``) gives the whole model's results, faster:

    .venv/bin/python benchmarks/pose_models_ab.py --a OLD/blazepose_full.zip --b NEW/blazepose_full.zip \\
        --clips ../shared/eval/unlabeled/short_hamilton_clip.mp4 --out RESULT.json
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]


def compare(a: Any, b: Any, clip: Path, max_frames: int) -> dict[str, Any]:
    from btb.video.frames import iter_normalised

    seconds = {"a": 0.0, "b": 0.0}
    frames = heads = differing = 0
    for frame in iter_normalised(clip, count=max_frames or None):
        image = frame.image
        out = {}
        for key in ("a", "b") if frames % 2 == 0 else ("b", "a"):
            start = time.perf_counter()
            out[key] = (a if key == "a" else b).detect(image)
            seconds[key] += time.perf_counter() - start
        same = all(np.array_equal(getattr(out["a"], f), getattr(out["b"], f)) for f in ("boxes", "scores", "landmarks"))
        differing += not same
        heads += len(out["a"].boxes)
        frames += 1
    return {"clip": clip.name, "frames": frames, "heads_a": heads, "frames_differing": differing,
            "ms_a": 1000 * seconds["a"] / max(frames, 1), "ms_b": 1000 * seconds["b"] / max(frames, 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--a", type=Path, required=True, help="staged blazepose_full.zip (A)")
    ap.add_argument("--b", type=Path, required=True, help="staged blazepose_full.zip (B)")
    ap.add_argument("--clips", type=Path, nargs="+", required=True)
    ap.add_argument("--frames", type=int, default=0, help="first frames of each clip (0: all)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(REPO / "src"))
    from btb.config import load_config
    from btb.detect.factory import make_detector

    options = load_config(REPO / "config" / "config.yaml")["detect"]["pose"]
    a, b = (make_detector("pose", str(path), options, 1, "cpu") for path in (args.a, args.b))
    clips = [compare(a, b, clip, args.frames) for clip in args.clips]
    frames = sum(c["frames"] for c in clips)
    total = {"frames": frames, "heads_a": sum(c["heads_a"] for c in clips),
             "frames_differing": sum(c["frames_differing"] for c in clips),
             "ms_a": sum(c["ms_a"] * c["frames"] for c in clips) / max(frames, 1),
             "ms_b": sum(c["ms_b"] * c["frames"] for c in clips) / max(frames, 1)}
    doc = {"a": str(args.a), "b": str(args.b), "frames_per_clip": args.frames or "all", "threads": 1,
           "command": [Path(sys.argv[0]).name, *sys.argv[1:]], "total": total, "clips": clips}
    print(json.dumps(total))
    if args.out:
        args.out.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return 0 if total["frames_differing"] == 0 else 1


if __name__ == "__main__":
    raise SystemExit(main())
