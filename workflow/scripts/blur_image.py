from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.blur_image(
        s.input.image, s.input.regions, s.input.probe, s.output.image, s.output.check, s.output.audit,
        s.wildcards.vid, dict(s.params.blur),
    ),
)
