from btb import stages
from btb.workflow_adapter import run

# one script for both detector rules: the detector is named by the rule (detect_<name>)
run(
    snakemake,
    lambda s: stages.detect(
        s.rule.removeprefix("detect_"), s.input.video, s.input.frames, s.wildcards.chunk, s.input.model,
        s.output.table, s.output.audit, s.wildcards.vid, dict(s.params.cfg), s.threads, s.params.device,
        only_frames=s.input.get("only") or None,
    ),
)
