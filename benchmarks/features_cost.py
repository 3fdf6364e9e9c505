"""What the features stage adds to a video's processing, from a finished run's benchmark tables.

    .venv/bin/python benchmarks/features_cost.py --results RESULTS_DIR

Per video: the seconds of its extract_features job against the seconds of all its other jobs (Snakemake's
``benchmark:`` tables under results/benchmarks/), and the share over all videos.
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path


def seconds(path: Path) -> float:
    with open(path, newline="") as fh:
        return sum(float(r["s"]) for r in csv.DictReader(fh, delimiter="\t"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, help="a results folder of a finished run")
    bench = Path(ap.parse_args().results) / "benchmarks"
    total_f = total = 0.0
    for feat in sorted((bench / "extract_features").glob("*.tsv")):
        vid = feat.stem
        f = seconds(feat)
        other = sum(seconds(p) for p in bench.glob(f"*/{vid}.*tsv") if p.parent.name != "extract_features")
        other += sum(seconds(p) for p in bench.glob(f"*/{vid}.tsv") if p.parent.name != "extract_features")
        total_f, total = total_f + f, total + f + other
        print(f"{vid:<45} features {f:6.2f} s of {f + other:7.1f} s ({100 * f / (f + other):4.1f} %)")
    if total:
        print(f"all videos: features {total_f:.1f} s of {total:.1f} s of job time ({100 * total_f / total:.2f} %)")


if __name__ == "__main__":
    main()
