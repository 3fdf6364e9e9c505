from btb.manifest import write_summary
from btb.workflow_adapter import run

run(snakemake, lambda s: write_summary(list(s.input.manifests), s.output.json, s.output.tsv,
                                      list(s.input.releases)))
