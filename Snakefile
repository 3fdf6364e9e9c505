# Blur the Baby: de-identify research videos of children (see README.md).
# This file is the table of contents; rules live in workflow/rules/, logic in the btb package (src/btb).
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/models.smk"
include: "workflow/rules/frames.smk"
include: "workflow/rules/detect.smk"
include: "workflow/rules/merge.smk"
include: "workflow/rules/blur.smk"
include: "workflow/rules/release.smk"
include: "workflow/rules/audit.smk"
include: "workflow/rules/evaluate.smk"


rule all:
    default_target: True
    input:
        get_final_output(),


onerror:
    from btb.failures import record_failures

    record_failures(SAMPLES, "results", config["frames"]["keep_intermediates"])
