# Blur the Baby: de-identify research videos of children (see README.md).
# This file is the table of contents; rules live in workflow/rules/, logic in the btb package (src/btb).
from snakemake.utils import min_version

min_version("9.0")


# The shipped configuration, found from any working directory (--directory); `--configfile` files are laid
# over it, and every key left out takes its default from the schema (src/btb/schemas/config.schema.yaml).
configfile: f"{workflow.basedir}/config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"  # configuration, samples, detectors, input functions
include: "workflow/rules/models.smk"  # stage and convert the detector models
include: "workflow/rules/frames.smk"  # probe each input, index its frames
include: "workflow/rules/detect.smk"  # one detection job per detector and chunk; cascade selection
include: "workflow/rules/merge.smk"  # detections -> blur regions (temporal coverage)
include: "workflow/rules/blur.smk"  # blur and encode (or blur a still image)
include: "workflow/rules/features.smk"  # tabular features per face track and frame
include: "workflow/rules/release.smk"  # residual verification, release gate, QA report
include: "workflow/rules/audit.smk"  # manifests, run summary, RO-Crate
include: "workflow/rules/evaluate.smk"  # the `evaluate` target: scores on labeled data


rule all:
    default_target: True
    input:
        get_final_output(),


onerror:
    from btb.audit.failures import record_failures

    record_failures(
        SAMPLES,
        "results",
        config["frames"]["keep_intermediates"],
        withhold_paths=bool(config["input_dir"])
        and config["input_ids"] == "opaque",
    )
