from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.blur(
        s.input.video, s.input.regions, s.input.frames, s.wildcards.chunk, s.output.blurred, s.output.audit,
        s.wildcards.vid, dict(s.params.blur),
    ),
)
