from btb.pipeline.adapter import run
from btb.stages.features import extract_features

run(snakemake, lambda s: extract_features(
    regions=s.input.regions, detections=dict(zip(s.params.detectors, s.input.detections, strict=True)),
    probe_json=s.input.probe, frame_table=s.input.frames, faces_out=s.output.faces, tracks_out=s.output.tracks,
    frames_out=s.output.frames, sidecar=s.output.sidecar, audit=s.output.audit, video_id=s.wildcards.vid,
    csv=bool(s.params.csv)))
