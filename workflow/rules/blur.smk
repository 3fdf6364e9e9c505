rule blur_frames:
    input:
        video=get_video,
        regions="results/{vid}/regions.parquet",
        frames="results/{vid}/frames.tsv",
    output:
        blurred=maybe_temp("results/{vid}/work/blurred.{chunk}.nut"),
        audit="results/{vid}/audit/blur_frames.{chunk}.json",
    log:
        "results/logs/blur_frames/{vid}.{chunk}.log",
    benchmark:
        "results/benchmarks/blur_frames/{vid}.{chunk}.tsv"
    conda:
        "../../envs/video.yaml"
    resources:
        mem_mb=1500,
        runtime=120,
    params:
        code=code("blur_frames.py"),
        blur=config["blur"],
    script:
        "../scripts/blur_frames.py"


rule encode_video:
    input:
        blurred=get_blurred_chunks,
        video=get_video,
        regions="results/{vid}/regions.parquet",
        probe="results/{vid}/probe.json",
        frames="results/{vid}/frames.tsv",
    output:
        video="results/{vid}/{vid}.deid.mp4",
        check="results/{vid}/output_check.json",
        audit="results/{vid}/audit/encode_video.json",
    log:
        "results/logs/encode_video/{vid}.log",
    benchmark:
        "results/benchmarks/encode_video/{vid}.tsv"
    conda:
        "../../envs/video.yaml"
    threads: 2
    resources:
        mem_mb=1500,
        runtime=120,
    params:
        code=code("encode_video.py"),
        encode=config["encode"],
        blur=config["blur"],
    script:
        "../scripts/encode_video.py"


rule blur_image:
    input:
        image=get_video,
        regions="results/{vid}/regions.parquet",
        probe="results/{vid}/probe.json",
    output:
        image="results/{vid}/{vid}.deid.{ext}",
        check="results/{vid}/image_check.{ext}.json",
        audit="results/{vid}/audit/blur_image.{ext}.json",
    log:
        "results/logs/blur_image/{vid}.{ext}.log",
    benchmark:
        "results/benchmarks/blur_image/{vid}.{ext}.tsv"
    wildcard_constraints:
        ext="jpg|png",
    conda:
        "../../envs/video.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("blur_image.py"),
        blur=config["blur"],
    script:
        "../scripts/blur_image.py"
