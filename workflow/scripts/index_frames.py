from btb.pipeline.adapter import run
from btb.stages.frames import index_video_frames

run(snakemake, lambda s: index_video_frames(video=s.input.video, frame_table=s.output.frames,
                                            audit=s.output.audit, video_id=s.wildcards.vid))
