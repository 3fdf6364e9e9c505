rule verify_residual:
    input:
        output=get_deliverable_input,
        # the head locator explains face-detector flags from the input frame (read in memory only)
        source=get_video,
        regions="results/{vid}/regions.parquet",
        frames="results/{vid}/frames.tsv",
        models=[model_file(d) for d in DETECTORS],
        # the stored input detections: those of the detectors not run again are checked on every frame
        tables=get_detection_tables,
    output:
        flags="results/{vid}/verification/flags.tsv",
        review_items="results/{vid}/verification/review_items.tsv",
        verdict="results/{vid}/verification/verdict.json",
        audit="results/{vid}/audit/verify_residual.json",
    log:
        "results/logs/verify_residual/{vid}.log",
    benchmark:
        "results/benchmarks/verify_residual/{vid}.tsv"
    conda:
        VERIFY_ENV
    threads: VERIFY_THREADS
    resources:
        gpu=VERIFY_GPU,
        mem_mb=2000,
        runtime=480,
    params:
        code=code("verify_residual.py"),
        detectors=DETECTORS,
        detect={k: STAGE_CONFIG["detect"][k] for k in (*DETECTORS, "device")},
        verify=STAGE_CONFIG["verify"],
        merge_thresholds=STAGE_CONFIG["merge"]["thresholds"],
        blur=config["blur"],
    script:
        "../scripts/verify_residual.py"


rule decide_release:
    input:
        output=get_deliverable_input,
        verdict=get_verification("verdict.json"),
        review_items=get_verification("review_items.tsv"),
        review=get_review_log,
        manual=get_manual_regions,
    output:
        "results/{vid}/release.json",
    log:
        "results/logs/decide_release/{vid}.log",
    benchmark:
        "results/benchmarks/decide_release/{vid}.tsv"
    conda:
        "../../envs/audit.yaml"
    resources:
        mem_mb=200,
        runtime=5,
    params:
        code=code("decide_release.py"),
        trusted=TRUSTED_REVIEWERS,
    script:
        "../scripts/decide_release.py"


# after the manifest: a file leaves the lab only once its audit record exists and verifies
rule release:
    input:
        output=get_deliverable_input,
        decision="results/{vid}/release.json",
        manifest="results/{vid}/manifest.json",
        signature=manifest_signature(),
    output:
        "results/{vid}/publication.json",
    log:
        "results/logs/release/{vid}.log",
    benchmark:
        "results/benchmarks/release/{vid}.tsv"
    conda:
        "../../envs/audit.yaml"
    resources:
        mem_mb=500,
        runtime=30,
    params:
        code=code("release.py"),
        release_dir="results/release",
        public_pem=SIGNING_PUBLIC,
    script:
        "../scripts/release.py"


rule qa_report:
    input:
        output=get_deliverable_input,
        detections=get_detection_tables,
        regions="results/{vid}/regions.parquet",
        flags="results/{vid}/verification/flags.tsv",
        review_items="results/{vid}/verification/review_items.tsv",
        verdict="results/{vid}/verification/verdict.json",
        frames="results/{vid}/frames.tsv",
    output:
        report(
            "results/{vid}/qa_report.html",
            caption="../report/qa.rst",
            category="QA",
            subcategory="{vid}",
        ),
    log:
        "results/logs/qa_report/{vid}.log",
    benchmark:
        "results/benchmarks/qa_report/{vid}.tsv"
    conda:
        "../../envs/video.yaml"
    resources:
        mem_mb=1500,
        runtime=30,
    params:
        code=code("qa_report.py"),
        detectors=DETECTORS,
        thresholds=STAGE_CONFIG["merge"]["thresholds"],
    script:
        "../scripts/qa_report.py"
