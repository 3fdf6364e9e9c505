from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.merge(
        {"yunet": s.input.yunet, "retinaface": s.input.retinaface}, s.input.probe, s.input.frames, s.output.regions,
        s.output.audit, s.wildcards.vid, dict(s.params.merge),
    ),
)
