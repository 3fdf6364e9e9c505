rule probe_video:
    input:
        get_video,
    output:
        "results/{vid}/probe.json",
    log:
        "results/logs/probe_video/{vid}.log",
    benchmark:
        "results/benchmarks/probe_video/{vid}.tsv"
    conda:
        "../../envs/video.yaml"
    resources:
        mem_mb=300,
        runtime=5,
    params:
        path=get_video_path,
    script:
        "../scripts/probe_video.py"


rule extract_frames:
    input:
        video=get_video,
        probe="results/{vid}/probe.json",
    output:
        store=maybe_temp(directory("results/{vid}/work/frames")),
        frames="results/{vid}/frames.tsv",
        audit="results/{vid}/audit/extract_frames.json",
    log:
        "results/logs/extract_frames/{vid}.log",
    benchmark:
        "results/benchmarks/extract_frames/{vid}.tsv"
    conda:
        "../../envs/video.yaml"
    resources:
        mem_mb=1000,
        runtime=60,
    params:
        chunk_seconds=config["frames"]["chunk_seconds"],
    script:
        "../scripts/extract_frames.py"
