from btb import stages
from btb.workflow_adapter import run


def models(s):
    """Detector name -> model file: YuNet, RetinaFace, and CenterFace when enabled."""
    return {d: s.input[d] for d in ("yunet", "retinaface", "centerface") if s.input.get(d)}


def tables(s):
    """Detector name -> its stored detection table (the same detectors)."""
    return {d: s.input[f"{d}_table"] for d in models(s) if s.input.get(f"{d}_table")}


run(
    snakemake,
    lambda s: stages.verify_residual(
        s.input.output, s.input.regions, models(s), s.output.flags, s.output.verdict, s.output.audit,
        s.wildcards.vid, dict(s.params.detect), dict(s.params.verify), s.threads, tables(s),
    ),
)
