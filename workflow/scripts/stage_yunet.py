from btb import stages
from btb.workflow_adapter import run

run(snakemake, lambda s: stages.stage_yunet(s.output.model, s.output.audit, s.params.mirror or None))
