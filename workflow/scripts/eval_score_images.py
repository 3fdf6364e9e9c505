from btb.eval_stages import score_image_set
from btb.workflow_adapter import run

DETECTORS = ("yunet", "retinaface", "centerface")

run(
    snakemake,
    lambda s: score_image_set(
        s.wildcards.set, s.params.images, s.input.gt, s.params.difficulty,
        {d: s.input[d] for d in DETECTORS}, {d: s.input[f"{d}_meta"] for d in DETECTORS},
        dict(s.params.merge), dict(s.params.blur), s.output[0],
    ),
)
