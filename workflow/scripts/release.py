from btb.pipeline.adapter import run
from btb.stages.release import release

run(snakemake, lambda s: release(deliverable=s.input.output, verdict_json=s.input.verdict, out=s.output[0],
                                 release_dir=s.params.release_dir, video_id=s.wildcards.vid))
