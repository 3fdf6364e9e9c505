from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.qa_report(
        s.input.output, s.input.yunet, s.input.retinaface, s.input.regions, s.input.flags, s.input.verdict,
        s.input.frames, s.output[0], s.wildcards.vid, dict(s.params.thresholds),
        centerface=s.input.get("centerface") or None,
    ),
)
