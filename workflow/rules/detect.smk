# Detection runs as one job per chunk of a video's frames (frames.chunks; 1 = the whole video), and the
# chunk tables are gathered into one table per detector.
rule detect_yunet:
    input:
        video=get_video,
        frames="results/{vid}/frames.tsv",
        model=YUNET_ONNX,
    output:
        table=temp("results/{vid}/detections/chunks/yunet.{chunk}.parquet"),
        audit="results/{vid}/audit/detect_yunet.{chunk}.json",
    log:
        "results/logs/detect_yunet/{vid}.{chunk}.log",
    benchmark:
        "results/benchmarks/detect_yunet/{vid}.{chunk}.tsv"
    conda:
        "../../envs/detect.yaml"
    threads: config["detect"]["threads"]
    resources:
        mem_mb=1500,
        runtime=240,
    params:
        code=CODE["detect_yunet"],
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
        code=CODE["select_cascade_frames"],
        threshold=config["merge"]["thresholds"]["yunet"],
        uncertain_floor=config["merge"]["cascade"]["uncertain_floor"],
        neighbours=config["merge"]["cascade"]["neighbours"],
    script:
        "../scripts/select_cascade_frames.py"


rule detect_retinaface:
    input:
        video=get_video,
        frames="results/{vid}/frames.tsv",
        model=RETINAFACE_ONNX,
        only=get_cascade_frames,
    output:
        table=temp("results/{vid}/detections/chunks/retinaface_{scope}.{chunk}.parquet"),
        audit="results/{vid}/audit/detect_retinaface_{scope}.{chunk}.json",
    log:
        "results/logs/detect_retinaface/{vid}_{scope}.{chunk}.log",
    benchmark:
        "results/benchmarks/detect_retinaface/{vid}_{scope}.{chunk}.tsv"
    conda:
        RETINAFACE_ENV
    threads: config["detect"]["threads"]
    resources:
        gpu=GPUS,
        mem_mb=2000,
        runtime=480,
    params:
        code=CODE["detect_retinaface"],
        cfg=config["detect"]["retinaface"],
        device=config["detect"]["device"],
    script:
        "../scripts/detect.py"


# CenterFace (optional: detect.centerface.enabled), on all frames or, in cascade mode with
# merge.cascade.centerface: selected, on the frames YuNet leaves uncertain (as RetinaFace).
rule detect_centerface:
    input:
        video=get_video,
        frames="results/{vid}/frames.tsv",
        model=CENTERFACE_ONNX,
        only=get_cascade_frames,
    output:
        table=temp("results/{vid}/detections/chunks/centerface_{scope}.{chunk}.parquet"),
        audit="results/{vid}/audit/detect_centerface_{scope}.{chunk}.json",
    log:
        "results/logs/detect_centerface/{vid}_{scope}.{chunk}.log",
    benchmark:
        "results/benchmarks/detect_centerface/{vid}_{scope}.{chunk}.tsv"
    conda:
        RETINAFACE_ENV
    threads: config["detect"]["threads"]
    resources:
        gpu=GPUS,
        mem_mb=2000,
        runtime=480,
    params:
        code=CODE["detect_centerface"],
        cfg=config["detect"].get("centerface", {}),
        device=config["detect"]["device"],
    script:
        "../scripts/detect.py"


rule gather_detections:
    input:
        tables=get_detection_chunks,
        audits=get_detection_chunk_audits,
    output:
        table="results/{vid}/detections/{table}.parquet",
        audit="results/{vid}/audit/detect_{table}.json",
    log:
        "results/logs/gather_detections/{vid}.{table}.log",
    benchmark:
        "results/benchmarks/gather_detections/{vid}.{table}.tsv"
    conda:
        "../../envs/detect.yaml"
    resources:
        mem_mb=500,
        runtime=5,
    params:
        code=CODE["gather_detections"],
    script:
        "../scripts/gather_detections.py"
