from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.stage_retinaface(
        s.output.graph, s.output.onnx, s.output.audit, s.params.mirror or None, float(s.params.score_floor)
    ),
)
