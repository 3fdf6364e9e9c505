from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.select_cascade_frames(
        s.input.yunet, s.input.frames, s.output.table, s.output.audit, s.wildcards.vid,
        float(s.params.threshold), float(s.params.uncertain_floor), int(s.params.neighbours),
    ),
)
