from btb.demo import write_demo_video
from btb.workflow_adapter import run

run(snakemake, lambda s: write_demo_video(s.output[0]))
