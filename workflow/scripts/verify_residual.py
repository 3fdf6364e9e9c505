from btb.pipeline.adapter import run
from btb.stages.verify import verify_residual

run(snakemake, lambda s: verify_residual(
    output=s.input.output, source=s.input.source or None, regions=s.input.regions, frame_table=s.input.frames,
    models=dict(zip(s.params.detectors, s.input.models, strict=True)),
    flags_out=s.output.flags, items_out=s.output.review_items, verdict_out=s.output.verdict, audit=s.output.audit,
    video_id=s.wildcards.vid, detect=dict(s.params.detect), verify=dict(s.params.verify), threads=s.threads,
    tables=dict(zip(s.params.detectors, s.input.tables, strict=True)),
    merge_thresholds=dict(s.params.merge_thresholds), blur=dict(s.params.blur)))
