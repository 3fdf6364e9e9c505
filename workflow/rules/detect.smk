# One detection rule per registered detector (btb.detect.registry). With frames.chunks > 1 each runs as one job
# per chunk of a video's frames and the chunk tables are gathered into one table per detector; with one chunk
# (the default) the job writes the video's table itself: no gathering job, no start-up paid for it.
# The first-stage detector (YuNet) runs on every frame; in cascade mode the others run on the frames it
# leaves uncertain (scope `cascade`), otherwise on every frame (scope `all`).
for det, spec in REGISTRY.items():
    scoped = table_name(det, "{scope}")  # "yunet", "retinaface_{scope}", ...
    suffix = scoped.removeprefix(det)
    job = f"{suffix}.{{chunk}}" if CHUNKED else suffix

    rule:
        name:
            f"detect_{det}"
        input:
            video=get_video,
            frames="results/{vid}/frames.tsv",
            model=model_file(det),
            only=get_cascade_frames,
        output:
            table=(
                temp(f"results/{{vid}}/detections/chunks/{scoped}.{{chunk}}.parquet")
                if CHUNKED
                else f"results/{{vid}}/detections/{scoped}.parquet"
            ),
            audit=(
                f"results/{{vid}}/audit/detect_{scoped}.{{chunk}}.json"
                if CHUNKED
                else f"results/{{vid}}/audit/detect_{scoped}.json"
            ),
        log:
            f"results/logs/detect_{det}/{{vid}}{job}.log",
        benchmark:
            f"results/benchmarks/detect_{det}/{{vid}}{job}.tsv"
        priority: DETECT_PRIORITY.get(det, 0)
        conda:
            detector_env(det)
        threads: DETECT_THREADS
        resources:
            gpu=detector_gpus(det),
            mem_mb=spec.job_mem_mb,
            runtime=spec.job_runtime_min,
        params:
            code=code("detect.py"),
            detector=det,
            options=config["detect"][det],
            device=config["detect"]["device"],
        script:
            "../scripts/detect.py"


rule select_cascade_frames:
    input:
        first_stage=f"results/{{vid}}/detections/{FIRST_STAGE}.parquet",
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
        code=code("select_cascade_frames.py"),
        threshold=config["merge"]["thresholds"][FIRST_STAGE],
        uncertain_floor=config["merge"]["cascade"]["uncertain_floor"],
        neighbours=config["merge"]["cascade"]["neighbours"],
    script:
        "../scripts/select_cascade_frames.py"


if CHUNKED:

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
            code=code("gather_detections.py"),
        script:
            "../scripts/gather_detections.py"
