from btb.pipeline.adapter import run
from btb.stages.evaluate import score_review

run(snakemake, lambda s: score_review(
    clip_ids=list(s.params.clips), gts=list(s.input.gt), regions=list(s.input.regions), flags=list(s.input.flags),
    items=list(s.input.review_items), frames=list(s.input.frames), probes=list(s.input.probe),
    out=s.output[0]))
