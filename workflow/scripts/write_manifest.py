from btb.pipeline.adapter import run
from btb.stages.audit import write_manifest

run(snakemake, lambda s: write_manifest(
    out=s.output.manifest, signing_key=s.params.signing_key or None, video_id=s.wildcards.vid, video=s.input.video,
    probe_json=s.input.probe, stage_audits=list(s.input.stage_audits), model_audits=list(s.input.model_audits),
    outputs=list(s.input.outputs), output_check=s.input.check, records=list(s.input.records),
    config=s.params.config, repo=s.params.repo))
