from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.release(s.input.output, s.input.verdict, s.output[0], s.params.release_dir, s.wildcards.vid),
)
