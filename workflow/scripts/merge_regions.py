from btb.pipeline.adapter import run
from btb.stages.regions import merge_regions

run(snakemake, lambda s: merge_regions(
    detections=dict(zip(s.params.detectors, s.input.detections, strict=True)), probe_json=s.input.probe,
    frame_table=s.input.frames, out=s.output.regions, audit=s.output.audit, video_id=s.wildcards.vid,
    merge=dict(s.params.merge), manual=s.input.manual[0] if s.input.manual else None))
