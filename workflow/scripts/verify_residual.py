from btb.pipeline.adapter import run
from btb.stages.verify import verify_residual

run(snakemake, lambda s: verify_residual(
    output=s.input.output, regions=s.input.regions,
    models=dict(zip(s.params.detectors, s.input.models, strict=True)),
    flags_out=s.output.flags, verdict_out=s.output.verdict, audit=s.output.audit, video_id=s.wildcards.vid,
    detect=dict(s.params.detect), verify=dict(s.params.verify), threads=s.threads,
    tables=dict(zip(s.params.detectors, s.input.tables, strict=True))))
