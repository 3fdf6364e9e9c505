from btb.pipeline.adapter import run
from btb.stages.release import release

run(snakemake, lambda s: release(
    deliverable=s.input.output, release_json=s.input.decision, manifest=s.input.manifest, out=s.output[0],
    release_dir=s.params.release_dir, video_id=s.wildcards.vid, public_pem=s.params.public_pem or None))
