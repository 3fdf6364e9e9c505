from btb.pipeline.adapter import run
from btb.stages.release import decide_release

# verdict and review_items are empty with outputs.video false (the features are released, unverified)
run(snakemake, lambda s: decide_release(
    deliverable=s.input.output, verdict_json=s.input.verdict or None,
    review_log=s.input.review[0] if s.input.review else None, trusted=list(s.params.trusted), out=s.output[0],
    video_id=s.wildcards.vid, review_items=s.input.review_items or None,
    manual=s.input.manual[0] if s.input.manual else None))
