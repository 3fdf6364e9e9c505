from btb.pipeline.adapter import run
from btb.stages.blur import blur_image

run(snakemake, lambda s: blur_image(
    image=s.input.image, regions=s.input.regions, probe_json=s.input.probe, out=s.output.image,
    check_json=s.output.check, audit=s.output.audit, video_id=s.wildcards.vid, blur=dict(s.params.blur)))
