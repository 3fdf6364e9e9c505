# The evaluate target scores every registered detector (optional ones included, whatever their `enabled`)
# and their combinations on labeled images and clips, from cached detection tables.
EVAL_DETECTORS = list(REGISTRY)


rule eval_detect_images:
    input:
        gt=lambda wc: EVAL_SETS[wc.set]["gt"],
        model=lambda wc: model_file(wc.detector),
    output:
        table="results/eval/{set}/{detector}.parquet",
        meta="results/eval/{set}/{detector}.json",
    log:
        "results/logs/eval_detect_images/{set}_{detector}.log",
    benchmark:
        "results/benchmarks/eval_detect_images/{set}_{detector}.tsv"
    wildcard_constraints:
        detector="|".join(EVAL_DETECTORS),
    conda:
        "../../envs/evaluate.yaml"
    threads: JOB_THREADS
    resources:
        mem_mb=2000,
        runtime=240,
    params:
        code=code("eval_detect_images.py"),
        images=lambda wc: EVAL_SETS[wc.set]["images"],
        # a still is one frame: a stride over a video's frames (detect.<name>.every) does not apply
        options=lambda wc: {
            k: v for k, v in config["detect"][wc.detector].items() if k != "every"
        },
    script:
        "../scripts/eval_detect_images.py"


rule make_synthetic:
    output:
        video=f"{SYNTHETIC}/{{scene}}.mp4",
        gt=f"{SYNTHETIC}/{{scene}}_gt.csv",
    log:
        "results/logs/make_synthetic/{scene}.log",
    benchmark:
        "results/benchmarks/make_synthetic/{scene}.tsv"
    wildcard_constraints:
        scene="|".join(SCENE_NAMES),
    conda:
        "../../envs/video.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("make_synthetic.py"),
    script:
        "../scripts/make_synthetic.py"


rule eval_score_images:
    input:
        gt=lambda wc: EVAL_SETS[wc.set]["gt"],
        tables=expand(
            "results/eval/{{set}}/{detector}.parquet", detector=EVAL_DETECTORS
        ),
        metas=expand("results/eval/{{set}}/{detector}.json", detector=EVAL_DETECTORS),
    output:
        "results/eval/{set}/metrics.json",
    log:
        "results/logs/eval_score_images/{set}.log",
    benchmark:
        "results/benchmarks/eval_score_images/{set}.tsv"
    conda:
        "../../envs/evaluate.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        code=code("eval_score_images.py"),
        detectors=EVAL_DETECTORS,
        images=lambda wc: EVAL_SETS[wc.set]["images"],
        difficulty=lambda wc: EVAL_SETS[wc.set].get("difficulty", ""),
        merge=config["merge"],
        blur=config["blur"],
    script:
        "../scripts/eval_score_images.py"


rule eval_score_videos:
    input:
        gt=[EVAL_CLIPS[c]["gt"] for c in sorted(EVAL_CLIPS)],
        # per detector (registry order), every clip's table of all frames
        tables=[
            f"results/{vid}/detections/{table_name(d, 'all')}.parquet"
            for d in EVAL_DETECTORS
            for vid in sorted(EVAL_CLIPS)
        ],
        frames=expand("results/{vid}/frames.tsv", vid=sorted(EVAL_CLIPS)),
        probe=expand("results/{vid}/probe.json", vid=sorted(EVAL_CLIPS)),
    output:
        "results/eval/videos/metrics.json",
    log:
        "results/logs/eval_score_videos.log",
    benchmark:
        "results/benchmarks/eval_score_videos.tsv"
    conda:
        "../../envs/evaluate.yaml"
    resources:
        mem_mb=2000,
        runtime=60,
    params:
        code=code("eval_score_videos.py"),
        clips=sorted(EVAL_CLIPS),
        detectors=EVAL_DETECTORS,
        merge=config["merge"],
    script:
        "../scripts/eval_score_videos.py"


rule eval_review:
    input:
        gt=[EVAL_CLIPS[c]["gt"] for c in sorted(EVAL_CLIPS)],
        regions=expand("results/{vid}/regions.parquet", vid=sorted(EVAL_CLIPS)),
        flags=expand("results/{vid}/verification/flags.tsv", vid=sorted(EVAL_CLIPS)),
        review_items=expand(
            "results/{vid}/verification/review_items.tsv", vid=sorted(EVAL_CLIPS)
        ),
        frames=expand("results/{vid}/frames.tsv", vid=sorted(EVAL_CLIPS)),
        probe=expand("results/{vid}/probe.json", vid=sorted(EVAL_CLIPS)),
    output:
        "results/eval/review/metrics.json",
    log:
        "results/logs/eval_review.log",
    benchmark:
        "results/benchmarks/eval_review.tsv"
    conda:
        "../../envs/evaluate.yaml"
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code=code("eval_review.py"),
        clips=sorted(EVAL_CLIPS),
    script:
        "../scripts/eval_review.py"


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
        "../../envs/evaluate.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("eval_report.py"),
        config=EVAL_CONFIG,
        repo=workflow.basedir,
    script:
        "../scripts/eval_report.py"


rule evaluate:
    input:
        "results/eval/report.md",
