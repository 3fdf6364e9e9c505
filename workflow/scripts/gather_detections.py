from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.gather_detections(
        f"detect_{s.wildcards.table}", list(s.input.tables), list(s.input.audits), s.output.table,
        s.output.audit, s.wildcards.vid,
    ),
)
