from btb.pipeline.adapter import run
from btb.stages.blur import encode_output

run(snakemake, lambda s: encode_output(
    blurred=list(s.input.blurred), video=s.input.video, probe_json=s.input.probe, frame_table=s.input.frames,
    out=s.output.video, check_json=s.output.check, audit=s.output.audit, video_id=s.wildcards.vid,
    encode=dict(s.params.encode), threads=s.threads, regions=s.input.regions, blur=dict(s.params.blur)))
