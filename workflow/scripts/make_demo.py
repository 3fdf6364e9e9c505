from btb.pipeline.adapter import run
from btb.video.demo import write_demo_video

run(snakemake, lambda s: write_demo_video(s.output[0]))
