"""Milliseconds per frame of each detector, one thread, one detector per process, back to back in one run.

Each detector runs in its own fresh process (as a workflow job does; detectors sharing a process slow each
other down) on the same first ``--frames`` frames of a clip, decoded in memory by that process (never
written), with the configuration of ``config/config.yaml`` (its downscaled pass included where the frame is
large enough for one) and ``detect.threads: 1``. The detectors take turns, ``--rounds`` times (Y, R, C, Y, R,
C, ...), so that a change in the machine's load hits all of them alike; the load average is recorded around
each run. Every registered detector (``btb.detect.registry``) can be timed; its staged model must exist
under ``--models`` (``./btb run`` stages the enabled ones; CenterFace with ``detect.centerface.enabled``).
``NAME:CHOICE`` times a detector with another model (``retinaface:resnet50``: the ResNet-50 backbone); for
ResNet-50, ``network_ms`` is the network alone (one pass at full size, without decoding or the extra pass).

    .venv/bin/python benchmarks/detector_ms.py --clip ../shared/eval/unlabeled/short_hamilton_clip.mp4 \\
        --out benchmarks/results/detector_ms.json
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def worker(name: str, clip: str, frames: int, models: Path) -> dict:
    from btb.config import load_config
    from btb.detect.factory import make_detector
    from btb.detect.registry import DETECTORS
    from btb.video.frames import iter_normalised

    cfg = load_config(REPO / "config" / "config.yaml")
    name, _, choice = name.partition(":")
    options = cfg["detect"][name]
    if choice:
        options = {**options, DETECTORS[name].model_option: choice}
    det = make_detector(name, DETECTORS[name].model_path(str(models), options), options, 1, "cpu")
    images = []
    for f in iter_normalised(clip):
        images.append(f.image)
        if len(images) == frames:
            break
    for img in images[:3]:  # warm-up
        det.detect(img)
    ms = []
    for img in images:
        t = time.perf_counter()
        det.detect(img)
        ms.append((time.perf_counter() - t) * 1000)
    result = {"frames": len(images), "size": list(images[0].shape[:2]), "median_ms": statistics.median(ms),
              "mean_ms": statistics.fmean(ms)}
    network = getattr(det, "run_network", None)
    if network is not None:  # the network alone, on the frame at full size
        net = []
        for img in images[:10]:
            t = time.perf_counter()
            network(img)
            net.append((time.perf_counter() - t) * 1000)
        result["network_ms"] = statistics.median(net)
    return result


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clip", default=str(REPO.parent / "shared" / "eval" / "unlabeled" / "short_hamilton_clip.mp4"))
    ap.add_argument("--frames", type=int, default=100)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--models", type=Path, default=REPO / "resources" / "models")
    ap.add_argument("--detectors", nargs="+", default=["yunet", "retinaface", "centerface"])
    ap.add_argument("--out", type=Path)
    ap.add_argument("--worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.clip, args.frames, args.models)))
        return 0
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    runs: dict[str, list[dict]] = {d: [] for d in args.detectors}
    for r in range(args.rounds):
        for d in args.detectors:
            load_before = os.getloadavg()[0]
            proc = subprocess.run([sys.executable, __file__, "--worker", d, "--clip", args.clip, "--frames",
                                   str(args.frames), "--models", str(args.models)],
                                  capture_output=True, text=True, env=env, check=True)
            res = json.loads(proc.stdout.strip().splitlines()[-1])
            res |= {"round": r, "load_before": load_before, "load_after": os.getloadavg()[0]}
            runs[d].append(res)
            print(f"round {r} {d:<30} median {res['median_ms']:.1f} ms/frame (load {load_before:.1f})", flush=True)
    summary = {d: {"median_of_round_medians_ms": statistics.median(x["median_ms"] for x in v),
                   "min_round_median_ms": min(x["median_ms"] for x in v)} for d, v in runs.items()}
    out = {"clip": args.clip, "frames": args.frames, "rounds": args.rounds, "threads": 1,
           "git_commit": subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True,
                                        text=True).stdout.strip(),
           "summary": summary, "runs": runs}
    print(json.dumps(summary, indent=1))
    if args.out:
        args.out.write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
