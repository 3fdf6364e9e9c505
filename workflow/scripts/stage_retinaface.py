from btb.models.staging import mirror_from_env
from btb.pipeline.adapter import run
from btb.stages.models import stage_retinaface

run(snakemake, lambda s: stage_retinaface(graph=s.output.graph, onnx=s.output.onnx, audit=s.output.audit,
                                          mirror=mirror_from_env(s.config["models"]["mirror"]),
                                          score_floor=float(s.params.score_floor)))
