from btb import stages
from btb.models import mirror_from_env
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.stage_centerface(
        s.output.model, s.output.onnx, s.output.audit, mirror_from_env(s.config["models"]["mirror"])
    ),
)
