from btb.pipeline.adapter import run
from btb.stages.evaluate import score_image_set

run(snakemake, lambda s: score_image_set(
    s.wildcards.set, s.params.images, s.input.gt, s.params.difficulty,
    dict(zip(s.params.detectors, s.input.tables, strict=True)),
    dict(zip(s.params.detectors, s.input.metas, strict=True)), dict(s.params.merge), dict(s.params.blur),
    s.output[0]))
