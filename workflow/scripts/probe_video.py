from btb.pipeline.adapter import run
from btb.stages.frames import probe

run(snakemake, lambda s: probe(video=s.params.path, out=s.output[0], video_id=s.wildcards.vid))
