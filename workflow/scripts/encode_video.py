from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.encode(
        list(s.input.blurred), s.input.video, s.input.probe, s.input.frames, s.output.video, s.output.check,
        s.output.audit, s.wildcards.vid,
        dict(s.params.encode), s.threads, regions=s.input.regions, blur_params=dict(s.params.blur),
    ),
)
