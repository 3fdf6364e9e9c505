"""Share of the picture blurred, per video, under values of one merge setting, from a finished run's detections.

    .venv/bin/python benchmarks/blur_share.py --results RESULTS --samples SHEET \
        --set merge.temporal.edge_extend=0,50 [--out FILE]

For each video of the run, the blur regions are made again from its stored detection tables
(``btb.regions.merge``, as the merge stage makes them: the configuration's merge section with the one key
varied) and the blurred pixels are counted over every frame: the cost in blur of a coverage setting on
unlabeled video, where recall cannot be scored. Nothing is written but the table (and ``--out``).
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
from pathlib import Path

import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))
from btb.config import load_config  # noqa: E402
from btb.regions.blur import region_mask  # noqa: E402
from btb.regions.merge import MergeParams, merge_detections, temporal_params  # noqa: E402
from btb.regions.tables import read_detections  # noqa: E402
from btb.video.frames import read_frame_table  # noqa: E402


def blurred_share(res: Path, merge: dict) -> float:
    info = pd.read_json(res / "probe.json", typ="series")
    width, height = int(info["width"]), int(info["height"])
    n = len(read_frame_table(str(res / "frames.tsv")))
    tables = {}
    for path in sorted((res / "detections").glob("*.parquet")):
        name = path.stem.removesuffix("_all").removesuffix("_cascade")
        tables.setdefault(name, read_detections(str(path)))
    regions = merge_detections(tables, MergeParams.from_config(merge), width, height, temporal_params(merge), n)
    blurred = sum(int(region_mask(height, width, g).sum()) for _, g in regions.groupby("frame_index"))
    return blurred / (n * width * height)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, type=Path)
    ap.add_argument("--samples", required=True, help="the run's sample sheet (video_id, path)")
    ap.add_argument("--set", required=True, help="merge.KEY.PATH=V1,V2,... (values read as YAML)")
    ap.add_argument("--configfile", help="the run's configuration (default: config/config.yaml)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    key, values = args.set.split("=", 1)
    path = key.split(".")
    if path[0] != "merge":
        ap.error("--set varies a key of the merge section")
    base = load_config(args.configfile or REPO / "config" / "config.yaml")["merge"]
    rows = []
    for vid in pd.read_csv(args.samples, sep="\t", dtype=str)["video_id"]:
        res = args.results / vid
        if not (res / "detections").is_dir():
            continue
        row = {"video_id": vid}
        for v in values.split(","):
            merge = copy.deepcopy(base)
            node = merge
            for k in path[1:-1]:
                node = node[k]
            node[path[-1]] = yaml.safe_load(v)
            row[f"{key}={v}"] = round(100 * blurred_share(res, merge), 2)
        rows.append(row)
        print("  ".join(f"{k} {v}" for k, v in row.items()), flush=True)
    table = pd.DataFrame(rows)
    print(table.to_string(index=False))
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "unit": "percent of the picture blurred",
                                        "videos": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
