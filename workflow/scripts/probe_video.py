from btb import stages
from btb.workflow_adapter import run

run(snakemake, lambda s: stages.probe(s.input[0], s.output[0], s.wildcards.vid))
