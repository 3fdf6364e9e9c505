rule detect_yunet:
    input:
        store=ancient("results/{vid}/work/frames"),
        frames="results/{vid}/frames.tsv",
        model=YUNET_ONNX,
    output:
        table="results/{vid}/detections/yunet.parquet",
        audit="results/{vid}/audit/detect_yunet.json",
    log:
        "results/logs/detect_yunet/{vid}.log",
    benchmark:
        "results/benchmarks/detect_yunet/{vid}.tsv"
    conda:
        "../../envs/detect.yaml"
    threads: config["detect"]["threads"]
    resources:
        mem_mb=1500,
        runtime=240,
    params:
        cfg=config["detect"]["yunet"],
        device=config["detect"]["device"],
    script:
        "../scripts/detect.py"


rule select_cascade_frames:
    input:
        yunet="results/{vid}/detections/yunet.parquet",
        frames="results/{vid}/frames.tsv",
    output:
        table="results/{vid}/detections/cascade_frames.tsv",
        audit="results/{vid}/audit/select_cascade_frames.json",
    log:
        "results/logs/select_cascade_frames/{vid}.log",
    benchmark:
        "results/benchmarks/select_cascade_frames/{vid}.tsv"
    conda:
        "../../envs/detect.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        threshold=config["merge"]["thresholds"]["yunet"],
        uncertain_floor=config["merge"]["cascade"]["uncertain_floor"],
        neighbours=config["merge"]["cascade"]["neighbours"],
    script:
        "../scripts/select_cascade_frames.py"


rule detect_retinaface:
    input:
        store=ancient("results/{vid}/work/frames"),
        frames="results/{vid}/frames.tsv",
        model=RETINAFACE_ONNX,
        only=get_cascade_frames,
    output:
        table="results/{vid}/detections/retinaface_{scope}.parquet",
        audit="results/{vid}/audit/detect_retinaface_{scope}.json",
    log:
        "results/logs/detect_retinaface/{vid}_{scope}.log",
    benchmark:
        "results/benchmarks/detect_retinaface/{vid}_{scope}.tsv"
    conda:
        "../../envs/detect.yaml"
    threads: config["detect"]["threads"]
    resources:
        mem_mb=2000,
        runtime=480,
    params:
        cfg=config["detect"]["retinaface"],
        device=config["detect"]["device"],
    script:
        "../scripts/detect.py"
