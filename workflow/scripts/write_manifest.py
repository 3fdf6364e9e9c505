from btb import stages
from btb.workflow_adapter import run

run(
    snakemake,
    lambda s: stages.manifest(
        s.output.manifest,
        signing_key=s.params.signing_key or None,
        video_id=s.wildcards.vid,
        video=s.input.video,
        probe_json=s.input.probe,
        stage_audits=list(s.input.stage_audits),
        model_audits=list(s.input.model_audits),
        outputs=list(s.input.outputs),
        output_check=s.input.check,
        config=s.params.config,
        repo=s.params.repo,
    ),
)
