from btb import stages
from btb.workflow_adapter import run

run(snakemake, lambda s: stages.index_video_frames(s.input.video, s.output.frames, s.output.audit, s.wildcards.vid))
