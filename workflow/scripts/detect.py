from btb.pipeline.adapter import run
from btb.stages.detect import detect_chunk

# one script for every detector's rule (detect_<name>); no chunk wildcard with frames.chunks 1: the whole video
run(snakemake, lambda s: detect_chunk(
    detector=s.params.detector, video=s.input.video, frame_table=s.input.frames,
    chunk=getattr(s.wildcards, "chunk", "1of1"),
    model=s.input.model, out=s.output.table, audit=s.output.audit, video_id=s.wildcards.vid,
    options=dict(s.params.options), threads=s.threads, device=s.params.device,
    only_frames=s.input.get("only") or None))
