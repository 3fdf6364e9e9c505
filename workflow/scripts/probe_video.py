from btb import stages
from btb.workflow_adapter import run

run(snakemake, lambda s: stages.probe(s.params.path, s.output[0], s.wildcards.vid))
