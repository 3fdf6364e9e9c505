from btb import stages
from btb.models import mirror_from_env
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.stage_retinaface(
        s.output.graph, s.output.onnx, s.output.audit, mirror_from_env(s.config["models"]["mirror"]),
        float(s.params.score_floor),
    ),
)
