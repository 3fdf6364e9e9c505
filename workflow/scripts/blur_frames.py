from btb.pipeline.adapter import run
from btb.stages.blur import blur_chunk

run(snakemake, lambda s: blur_chunk(
    video=s.input.video, regions=s.input.regions, frame_table=s.input.frames, chunk=s.wildcards.chunk,
    out=s.output.blurred, audit=s.output.audit, video_id=s.wildcards.vid, blur=dict(s.params.blur)))
