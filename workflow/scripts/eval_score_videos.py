from btb.pipeline.adapter import run
from btb.stages.evaluate import score_video_set

run(snakemake, lambda s: score_video_set(
    clip_ids=list(s.params.clips), detectors=list(s.params.detectors), gts=list(s.input.gt),
    tables=list(s.input.tables), frames=list(s.input.frames), probes=list(s.input.probe),
    merge_cfg=dict(s.params.merge), out=s.output[0]))
