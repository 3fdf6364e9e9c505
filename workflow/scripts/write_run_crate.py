from btb.pipeline.adapter import run
from btb.stages.audit import run_crate

run(snakemake, lambda s: run_crate(
    out=s.output[0], manifests=list(s.input.manifests),
    outputs=[*s.input.signatures, *s.input.releases, *s.input.publications, *s.input.qa, *s.input.summary],
    repo=s.params.repo))
