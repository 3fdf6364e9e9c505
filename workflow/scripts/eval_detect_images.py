from btb.pipeline.adapter import run
from btb.stages.evaluate import detect_image_set

run(snakemake, lambda s: detect_image_set(
    s.wildcards.set, s.params.images, s.input.gt, s.wildcards.detector, s.input.model, dict(s.params.options),
    s.output.table, s.output.meta, s.threads))
