from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.verify_residual(
        s.input.output, s.input.regions, {"yunet": s.input.yunet, "retinaface": s.input.retinaface},
        s.output.flags, s.output.verdict, s.output.audit, s.wildcards.vid, dict(s.params.detect),
        dict(s.params.verify), s.threads,
    ),
)
