rule extract_features:
    input:
        regions="results/{vid}/regions.parquet",
        detections=get_detection_tables,
        probe="results/{vid}/probe.json",
        frames="results/{vid}/frames.tsv",
    output:
        faces="results/{vid}/features/faces.parquet",
        tracks="results/{vid}/features/tracks.parquet",
        frames="results/{vid}/features/frames.parquet",
        sidecar="results/{vid}/features/features.json",
        csv=FEATURES_CSV,
        audit="results/{vid}/audit/extract_features.json",
    log:
        "results/logs/extract_features/{vid}.log",
    benchmark:
        "results/benchmarks/extract_features/{vid}.tsv"
    conda:
        "../../envs/detect.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("extract_features.py"),
        detectors=DETECTORS,
        csv=config["features"]["csv"],
    script:
        "../scripts/extract_features.py"


# outputs.video false: the features, zipped and checked, are what leaves the lab
rule bundle_features:
    input:
        faces="results/{vid}/features/faces.parquet",
        tracks="results/{vid}/features/tracks.parquet",
        frames="results/{vid}/features/frames.parquet",
        sidecar="results/{vid}/features/features.json",
    output:
        bundle="results/{vid}/{vid}.deid.features.zip",
        check="results/{vid}/features_check.json",
        audit="results/{vid}/audit/bundle_features.json",
    log:
        "results/logs/bundle_features/{vid}.log",
    benchmark:
        "results/benchmarks/bundle_features/{vid}.tsv"
    conda:
        "../../envs/detect.yaml"
    resources:
        mem_mb=500,
        runtime=10,
    params:
        code=code("bundle_features.py"),
    script:
        "../scripts/bundle_features.py"
