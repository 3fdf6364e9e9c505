rule write_manifest:
    input:
        video=get_video,
        probe="results/{vid}/probe.json",
        stage_audits=get_stage_audits,
        model_audits=MODEL_AUDITS,
        outputs=get_manifest_outputs,
        check=get_output_check,
        records=get_manifest_records,
    output:
        manifest="results/{vid}/manifest.json",
        signature=manifest_signature(),
    log:
        "results/logs/write_manifest/{vid}.log",
    benchmark:
        "results/benchmarks/write_manifest/{vid}.tsv"
    conda:
        "../../envs/audit.yaml"
    resources:
        mem_mb=500,
        runtime=10,
    params:
        code=code("write_manifest.py"),
        config=PROCESSING_CONFIG,
        repo=workflow.basedir,
        signing_key=SIGNING_KEY or "",
    script:
        "../scripts/write_manifest.py"


rule summarise_run:
    input:
        manifests=expand("results/{vid}/manifest.json", vid=sorted(SAMPLES)),
        releases=expand("results/{vid}/release.json", vid=sorted(SAMPLES)),
        publications=expand("results/{vid}/publication.json", vid=sorted(SAMPLES)),
    output:
        json=report(
            "results/summary.json", caption="../report/summary.rst", category="Run"
        ),
        tsv="results/summary.tsv",
        html=report(
            "results/summary.html", caption="../report/summary.rst", category="Run"
        ),
    log:
        "results/logs/summarise_run.log",
    benchmark:
        "results/benchmarks/summarise_run.tsv"
    conda:
        "../../envs/audit.yaml"
    resources:
        mem_mb=500,
        runtime=10,
    params:
        code=code("summarise_run.py"),
    script:
        "../scripts/summarise_run.py"


rule write_run_crate:
    input:
        manifests=expand("results/{vid}/manifest.json", vid=sorted(SAMPLES)),
        signatures=get_signatures,
        releases=expand("results/{vid}/release.json", vid=sorted(SAMPLES)),
        publications=expand("results/{vid}/publication.json", vid=sorted(SAMPLES)),
        qa=(
            expand("results/{vid}/qa_report.html", vid=sorted(SAMPLES))
            if VIDEO_OUT
            else []
        ),
        summary=rules.summarise_run.output,
    output:
        "results/ro-crate-metadata.json",
    log:
        "results/logs/write_run_crate.log",
    benchmark:
        "results/benchmarks/write_run_crate.tsv"
    conda:
        "../../envs/audit.yaml"
    resources:
        mem_mb=500,
        runtime=10,
    params:
        code=code("write_run_crate.py"),
        repo=workflow.basedir,
    script:
        "../scripts/write_run_crate.py"
