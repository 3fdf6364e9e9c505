from btb.runcrate import write_run_crate
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: write_run_crate(
        s.output[0],
        manifests=list(s.input.manifests),
        outputs=[*s.input.signatures, *s.input.releases, *s.input.qa, *s.input.summary],
        repo=s.params.repo,
    ),
)
