from btb.pipeline.adapter import run
from btb.stages.features import bundle_features

run(snakemake, lambda s: bundle_features(
    tables={"faces": s.input.faces, "tracks": s.input.tracks, "frames": s.input.frames}, sidecar=s.input.sidecar,
    out=s.output.bundle, check_out=s.output.check, audit=s.output.audit,
    video_id=s.wildcards.vid))
