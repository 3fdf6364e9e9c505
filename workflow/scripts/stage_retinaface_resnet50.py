from btb.models.staging import mirror_from_env
from btb.pipeline.adapter import run
from btb.stages.models import stage_retinaface_resnet50

run(snakemake, lambda s: stage_retinaface_resnet50(weights=s.output.weights, onnx=s.output.onnx,
                                                   audit=s.output.audit,
                                                   mirror=mirror_from_env(s.config["models"]["mirror"])))
