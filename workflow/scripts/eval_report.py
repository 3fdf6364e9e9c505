from btb.evaluation.report import write_report
from btb.pipeline.adapter import run

run(snakemake, lambda s: write_report(list(s.input), dict(s.params.config), s.output.md, s.output.json,
                                      s.output.plots, s.params.repo))
