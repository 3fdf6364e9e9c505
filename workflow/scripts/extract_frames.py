from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.extract_frames(
        s.input.video, s.input.probe, s.output.store, s.output.frames, s.output.audit,
        s.wildcards.vid, float(s.params.chunk_seconds),
    ),
)
