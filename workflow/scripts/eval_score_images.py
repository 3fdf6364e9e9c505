from btb.eval_stages import score_image_set
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: score_image_set(
        s.wildcards.set, s.params.images, s.input.gt, s.params.difficulty,
        {"yunet": s.input.yunet, "retinaface": s.input.retinaface},
        {"yunet": s.input.yunet_meta, "retinaface": s.input.retinaface_meta},
        dict(s.params.merge), dict(s.params.blur), s.output[0],
    ),
)
