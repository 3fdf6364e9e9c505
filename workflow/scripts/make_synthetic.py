from pathlib import Path

from btb.evaluation.synthetic import write_scene
from btb.pipeline.adapter import run

run(snakemake, lambda s: write_scene(s.wildcards.scene, Path(s.output.video).parent))
