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
        code=code("probe_video.py"),
        path=get_video_path,
    script:
        "../scripts/probe_video.py"


rule index_frames:
    input:
        video=get_video,
        probe="results/{vid}/probe.json",
    output:
        frames="results/{vid}/frames.tsv",
        audit="results/{vid}/audit/index_frames.json",
    log:
        "results/logs/index_frames/{vid}.log",
    benchmark:
        "results/benchmarks/index_frames/{vid}.tsv"
    conda:
        "../../envs/video.yaml"
    resources:
        mem_mb=500,
        runtime=60,
    params:
        code=code("index_frames.py"),
    script:
        "../scripts/index_frames.py"
