rule verify_residual:
    input:
        output=get_deliverable_input,
        regions="results/{vid}/regions.parquet",
        yunet=YUNET_ONNX,
        retinaface=RETINAFACE_ONNX,
    output:
        flags="results/{vid}/verification/flags.tsv",
        verdict="results/{vid}/verification/verdict.json",
        audit="results/{vid}/audit/verify_residual.json",
    log:
        "results/logs/verify_residual/{vid}.log",
    benchmark:
        "results/benchmarks/verify_residual/{vid}.tsv"
    conda:
        "../../envs/detect.yaml"
    threads: config["detect"]["threads"]
    resources:
        mem_mb=2000,
        runtime=480,
    params:
        detect=config["detect"],
        verify=config["verify"],
    script:
        "../scripts/verify_residual.py"


rule release:
    input:
        output=get_deliverable_input,
        verdict="results/{vid}/verification/verdict.json",
    output:
        "results/{vid}/release.json",
    log:
        "results/logs/release/{vid}.log",
    benchmark:
        "results/benchmarks/release/{vid}.tsv"
    conda:
        "../../envs/audit.yaml"
    resources:
        mem_mb=200,
        runtime=5,
    params:
        release_dir="results/release",
    script:
        "../scripts/release.py"
