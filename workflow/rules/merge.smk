rule merge_regions:
    input:
        detections=get_detection_tables,
        probe="results/{vid}/probe.json",
        frames="results/{vid}/frames.tsv",
        # blur regions a reviewer added (btb review serve): a change re-blurs and re-verifies this video only
        manual=get_manual_regions,
    output:
        regions="results/{vid}/regions.parquet",
        audit="results/{vid}/audit/merge_regions.json",
    log:
        "results/logs/merge_regions/{vid}.log",
    benchmark:
        "results/benchmarks/merge_regions/{vid}.tsv"
    conda:
        "../../envs/detect.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("merge_regions.py"),
        detectors=DETECTORS,
        merge=STAGE_CONFIG["merge"],
    script:
        "../scripts/merge_regions.py"
