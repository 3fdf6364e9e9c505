from btb.pipeline.adapter import run
from btb.stages.qa import qa_report

run(snakemake, lambda s: qa_report(
    deliverable=s.input.output, detections=dict(zip(s.params.detectors, s.input.detections, strict=True)),
    regions=s.input.regions, flags=s.input.flags, items=s.input.review_items,
    verdict_json=s.input.verdict, frame_table=s.input.frames,
    out=s.output[0], video_id=s.wildcards.vid, thresholds=dict(s.params.thresholds)))
