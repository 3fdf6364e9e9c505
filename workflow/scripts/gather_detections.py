from btb.pipeline.adapter import run
from btb.stages.detect import gather_detections

run(snakemake, lambda s: gather_detections(
    stage=f"detect_{s.wildcards.table}", parts=list(s.input.tables), part_audits=list(s.input.audits),
    out=s.output.table, audit=s.output.audit, video_id=s.wildcards.vid))
