from btb.pipeline.adapter import run
from btb.stages.regions import select_cascade_frames

run(snakemake, lambda s: select_cascade_frames(
    first_stage=s.input.first_stage, frame_table=s.input.frames, out=s.output.table, audit=s.output.audit,
    video_id=s.wildcards.vid, threshold=float(s.params.threshold),
    uncertain_floor=float(s.params.uncertain_floor), neighbours=int(s.params.neighbours)))
