from btb.manifest import write_summary
from btb.qa import write_run_report
from btb.workflow_adapter import run


def body(s):
    write_summary(list(s.input.manifests), s.output.json, s.output.tsv, list(s.input.releases))
    write_run_report(s.output.html, s.output.json)


run(snakemake, body)
