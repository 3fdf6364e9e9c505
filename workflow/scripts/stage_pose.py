from btb.models.staging import mirror_from_env
from btb.pipeline.adapter import run
from btb.stages.models import stage_pose

run(snakemake, lambda s: stage_pose(detector=s.output.detector, landmarks=s.output.landmarks, model=s.output.model,
                                    audit=s.output.audit, mirror=mirror_from_env(s.config["models"]["mirror"])))
