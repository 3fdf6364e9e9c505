from btb.eval_stages import detect_image_set
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: detect_image_set(
        s.wildcards.set, s.params.images, s.input.gt, s.wildcards.detector, s.input.model, dict(s.params.cfg),
        s.output.table, s.output.meta, s.threads,
    ),
)
