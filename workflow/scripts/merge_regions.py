from btb import stages
from btb.workflow_adapter import run


def tables(s):
    """Detector name -> gathered table; CenterFace only when enabled (its input is then present)."""
    return {d: s.input[d] for d in ("yunet", "retinaface", "centerface") if s.input.get(d)}


run(
    snakemake,
    lambda s: stages.merge(
        tables(s), s.input.probe, s.input.frames, s.output.regions, s.output.audit, s.wildcards.vid,
        dict(s.params.merge),
    ),
)
