"""Residual verification with different ``verify.redetect`` sets and with the render check on or off, on the
videos of a finished run.

    .venv/bin/python benchmarks/verify_redetect.py --results RESULTS --samples SHEET --models MODELS_DIR \
        [--sets none yunet yunet,retinaface] [--render on off] [--out benchmarks/results/verify_redetect.json]

For each video of the run (its de-identified output, region table and stored detection tables) and each
redetect set (``none``: no detector run again) with each render setting (``verify.render.enabled``), in turns
within one process: the verification stage's seconds, its flags by detector, and its review items (open,
dismissed). The run's own verification files are not touched (everything is written to a
temporary folder). Faces never leave the run's folder: only counts and times are reported.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pandas as pd

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from btb.config import defaults, detectors, job_threads, load_config, stage_config  # noqa: E402
from btb.detect.registry import DETECTORS  # noqa: E402
from btb.samples import read_sample_sheet  # noqa: E402
from btb.stages.verify import verify_residual  # noqa: E402


def one(vid: str, source: str, res: Path, cfg: dict[str, Any], models: str, redetect: list[str],
        tmp: Path, render: bool | None = None) -> dict[str, Any]:
    """Verify one video with ``redetect`` (and ``render``, default: the configuration's) into ``tmp``."""
    names = detectors(cfg)
    # each detector's table, as workflow/rules/common.smk names it: <name> (first stage), <name>_all, <name>_cascade
    tables = {d: str(next(p for p in (res / "detections" / f"{d}{s}.parquet" for s in ("", "_all", "_cascade"))
                          if p.exists())) for d in names}
    out = tmp / vid / label(redetect, render)
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    verify_residual(output=str(next(res.glob(f"{vid}.deid.*"))), source=source, regions=str(res / "regions.parquet"),
                    frame_table=str(res / "frames.tsv"),
                    models={d: DETECTORS[d].model_path(models, cfg["detect"][d]) for d in names},
                    flags_out=str(out / "flags.tsv"), items_out=str(out / "items.tsv"),
                    verdict_out=str(out / "verdict.json"), audit=str(out / "audit.json"), video_id=vid,
                    detect={k: cfg["detect"][k] for k in (*names, "device")},
                    verify={**cfg["verify"], "redetect": redetect,
                            "render": {**cfg["verify"]["render"],
                                       **({} if render is None else {"enabled": render})}},
                    blur=cfg["blur"],
                    threads=job_threads(cfg["detect"]["threads"], 1, os.cpu_count()),
                    tables=tables, merge_thresholds=cfg["merge"]["thresholds"])
    seconds = time.perf_counter() - t0
    v = json.loads((out / "verdict.json").read_text())
    items = pd.read_csv(out / "items.tsv", sep="\t")
    return {"seconds": round(seconds, 2), "frames": v["frames_checked"], "flags": v["flags"],
            "by_detector": v["by_detector"], "open_items": v["items"], "dismissed_items": v["items_dismissed"],
            "open_item_frames": sorted(
                (int(a), int(b)) for a, b in zip(items.loc[items["status"] == "open", "first_frame"],
                                                  items.loc[items["status"] == "open", "last_frame"], strict=True))}


def label(redetect: list[str], render: bool | None) -> str:
    """``yunet+retinaface`` / ``none``, with ``/render-on`` or ``/render-off`` when set."""
    name = "+".join(redetect) or "none"
    return name if render is None else f"{name}/render-{'on' if render else 'off'}"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, type=Path, help="results folder of a finished run")
    ap.add_argument("--samples", required=True, help="the run's sample sheet (video_id, path)")
    ap.add_argument("--models", required=True, help="the run's models folder")
    ap.add_argument("--configfile", help="the run's configuration (default: the defaults)")
    ap.add_argument("--sets", nargs="+", default=["none", "yunet"],
                    help="redetect sets, comma-separated detector names ('none': no detector)")
    ap.add_argument("--render", nargs="+", choices=["on", "off"], default=["on"],
                    help="the render check (verify.render.enabled) on, off, or each in turn")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cfg = stage_config(load_config(args.configfile) if args.configfile else defaults())
    sets = [[] if s == "none" else s.split(",") for s in args.sets]
    runs = [(redetect, r == "on") for redetect in sets for r in args.render]
    rows: dict[str, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        for sample in read_sample_sheet(args.samples):
            res = args.results / sample.video_id
            if not (res / "regions.parquet").exists() or not list(res.glob(f"{sample.video_id}.deid.*")):
                continue
            rows[sample.video_id] = {}
            for redetect, render in runs:
                r = one(sample.video_id, str(sample.path), res, cfg, args.models, redetect, Path(tmp), render)
                rows[sample.video_id][label(redetect, render)] = r
                print(f"{sample.video_id:<45} {label(redetect, render):<24} {r['seconds']:7.2f} s  "
                      f"flags {r['flags']:4d} {r['by_detector']}  open items {r['open_items']}  "
                      f"dismissed {r['dismissed_items']}",
                      flush=True)
    totals = {label(s, r): {k: round(sum(v[label(s, r)][k] for v in rows.values()), 2)
                            for k in ("seconds", "frames", "flags", "open_items", "dismissed_items")} for s, r in runs}
    for name, t in totals.items():
        print(f"all videos  {name:<18} {t['seconds']:7.2f} s for {t['frames']} frames  flags {t['flags']}  open items "
              f"{t['open_items']}  dismissed {t['dismissed_items']}")
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "videos": rows, "totals": totals},
                                       indent=1) + "\n")


if __name__ == "__main__":
    main()
