rule eval_detect_images:
    input:
        gt=lambda wc: EVAL_SETS[wc.set]["gt"],
        model=get_model,
    output:
        table="results/eval/{set}/{detector}.parquet",
        meta="results/eval/{set}/{detector}.json",
    log:
        "results/logs/eval_detect_images/{set}_{detector}.log",
    benchmark:
        "results/benchmarks/eval_detect_images/{set}_{detector}.tsv"
    wildcard_constraints:
        detector="yunet|retinaface|centerface",
    conda:
        "../../envs/detect.yaml"
    threads: config["detect"]["threads"]
    resources:
        mem_mb=2000,
        runtime=240,
    params:
        images=lambda wc: EVAL_SETS[wc.set]["images"],
        cfg=lambda wc: config["detect"][wc.detector],
    script:
        "../scripts/eval_detect_images.py"


rule eval_score_images:
    input:
        gt=lambda wc: EVAL_SETS[wc.set]["gt"],
        yunet="results/eval/{set}/yunet.parquet",
        retinaface="results/eval/{set}/retinaface.parquet",
        centerface="results/eval/{set}/centerface.parquet",
        yunet_meta="results/eval/{set}/yunet.json",
        retinaface_meta="results/eval/{set}/retinaface.json",
        centerface_meta="results/eval/{set}/centerface.json",
    output:
        "results/eval/{set}/metrics.json",
    log:
        "results/logs/eval_score_images/{set}.log",
    benchmark:
        "results/benchmarks/eval_score_images/{set}.tsv"
    conda:
        "../../envs/detect.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        images=lambda wc: EVAL_SETS[wc.set]["images"],
        difficulty=lambda wc: EVAL_SETS[wc.set].get("difficulty", ""),
        merge=config["merge"],
        blur=config["blur"],
    script:
        "../scripts/eval_score_images.py"


rule eval_score_videos:
    input:
        gt=[EVAL_CLIPS[c]["gt"] for c in sorted(EVAL_CLIPS)],
        yunet=expand("results/{vid}/detections/yunet.parquet", vid=sorted(EVAL_CLIPS)),
        retinaface=expand(
            "results/{vid}/detections/retinaface_all.parquet", vid=sorted(EVAL_CLIPS)
        ),
        centerface=expand(
            "results/{vid}/detections/centerface_all.parquet", vid=sorted(EVAL_CLIPS)
        ),
        frames=expand("results/{vid}/frames.tsv", vid=sorted(EVAL_CLIPS)),
        probe=expand("results/{vid}/probe.json", vid=sorted(EVAL_CLIPS)),
    output:
        "results/eval/videos/metrics.json",
    log:
        "results/logs/eval_score_videos.log",
    benchmark:
        "results/benchmarks/eval_score_videos.tsv"
    conda:
        "../../envs/detect.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        clips=sorted(EVAL_CLIPS),
        merge=config["merge"],
    script:
        "../scripts/eval_score_videos.py"


rule eval_report:
    input:
        get_eval_metrics,
    output:
        md=report(
            "results/eval/report.md",
            caption="../report/eval.rst",
            category="Evaluation",
        ),
        json="results/eval/report.json",
        plots=directory("results/eval/plots"),
    log:
        "results/logs/eval_report.log",
    benchmark:
        "results/benchmarks/eval_report.tsv"
    conda:
        "../../envs/audit.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        config=EVAL_CONFIG,
        repo=workflow.basedir,
    script:
        "../scripts/eval_report.py"


rule evaluate:
    input:
        "results/eval/report.md",
