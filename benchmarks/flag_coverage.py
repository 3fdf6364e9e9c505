"""How a change of merge settings moves the coverage of a run's residual-verification flags.

A flag is a detection on the de-identified output that the blur covers less than ``verify.min_covered``. For
each flag of a finished run this recomputes its coverage under the blur regions of two merge settings (from
the run's own cached detection tables; nothing is detected or encoded again) and lists the flags that one
setting covers clearly better than the other, with the total blurred area of each:

    .venv/bin/python benchmarks/flag_coverage.py --results ../flag-runs/speed0/results \\
        --a ../flag-runs/speed0.yaml --b config/config.yaml

``--a`` and ``--b`` are YAML files laid over config/config.yaml (``merge`` is what matters); a flag whose
coverage under ``--b`` is at least ``--margin`` above its coverage under ``--a`` is a face-like detection that
setting ``b`` would have blurred (more).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pandas as pd
import yaml
from snakemake.utils import update_config

from btb.config import validate_config
from btb.evaluation.methods import method_regions
from btb.evaluation.metrics import face_coverages
from btb.regions.tables import read_detections

ROOT = Path(__file__).resolve().parents[1]


def merge_settings(overlay: Path) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "config" / "config.yaml").read_text())
    update_config(config, yaml.safe_load(overlay.read_text()) or {})
    return validate_config(config, overlay)["merge"]


def clip_regions(clip: Path, merge: dict[str, Any]) -> tuple[pd.DataFrame, int, int]:
    probe = json.loads((clip / "probe.json").read_text())
    width, height = int(probe["width"]), int(probe["height"])
    n_frames = len(pd.read_csv(clip / "frames.tsv", sep="\t"))
    tables = {p.stem.removesuffix("_all").removesuffix("_cascade"): read_detections(p)
              for p in sorted((clip / "detections").glob("*.parquet"))}
    mode = merge["mode"]
    regions, _ = method_regions(tables, n_frames, width, height, merge, methods=[mode])
    return regions[mode], width, height


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--results", type=Path, required=True, help="a run's results/ folder")
    ap.add_argument("--a", type=Path, required=True, help="overlay of the first setting")
    ap.add_argument("--b", type=Path, required=True, help="overlay of the second setting")
    ap.add_argument("--margin", type=float, default=0.1)
    args = ap.parse_args()
    settings = {"a": merge_settings(args.a), "b": merge_settings(args.b)}
    for flags_file in sorted(args.results.glob("*/verification/flags.tsv")):
        clip = flags_file.parents[1]
        flags = pd.read_csv(flags_file, sep="\t")
        boxes = flags[["frame_index", "x", "y", "w", "h"]].assign(labeled=1)
        cov, area = {}, {}
        for key, merge in settings.items():
            regions, width, height = clip_regions(clip, merge)
            cov[key] = face_coverages(boxes, regions, height, width)["coverage"].to_numpy()
            area[key] = float((regions["w"] * regions["h"]).sum())
        flags = flags.assign(coverage_a=cov["a"].round(2), coverage_b=cov["b"].round(2))
        better_b = flags[flags["coverage_b"] - flags["coverage_a"] >= args.margin]
        better_a = flags[flags["coverage_a"] - flags["coverage_b"] >= args.margin]
        ratio = area["b"] / area["a"] if area["a"] else float("nan")
        print(f"\n## {clip.name}: {len(flags)} flags; blurred area b/a {ratio:.3f}; covered better by b: "
              f"{len(better_b)}, by a: {len(better_a)}\n")
        for label, rows in (("b", better_b), ("a", better_a)):
            if len(rows):
                print(f"covered better by {label}:\n")
                print(rows.drop(columns=["covered"], errors="ignore").to_markdown(index=False), "\n")


if __name__ == "__main__":
    main()
