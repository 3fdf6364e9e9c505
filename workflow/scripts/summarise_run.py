from btb.pipeline.adapter import run
from btb.stages.audit import summarise_run

run(snakemake, lambda s: summarise_run(
    manifests=list(s.input.manifests), releases=list(s.input.releases), publications=list(s.input.publications),
    out_json=s.output.json, out_tsv=s.output.tsv, out_html=s.output.html))
