rule stage_yunet:
    output:
        model=YUNET_ONNX,
        audit=YUNET_AUDIT,
    log:
        "results/logs/stage_yunet.log",
    benchmark:
        "results/benchmarks/stage_yunet.tsv"
    conda:
        "../../envs/detect.yaml"
    resources:
        mem_mb=500,
        runtime=10,
    script:
        "../scripts/stage_yunet.py"


rule stage_retinaface:
    output:
        graph=f"{MODELS}/retinaface_mobilenetv2_frozen_graph.pb",
        onnx=RETINAFACE_ONNX,
        sidecar=f"{RETINAFACE_ONNX}.sha256",
        audit=RETINAFACE_AUDIT,
    log:
        "results/logs/stage_retinaface.log",
    benchmark:
        "results/benchmarks/stage_retinaface.tsv"
    conda:
        "../../envs/convert.yaml"
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        score_floor=RF_FLOOR,
    script:
        "../scripts/stage_retinaface.py"


rule stage_centerface:
    output:
        model=f"{MODELS}/centerface.onnx",
        onnx=CENTERFACE_ONNX,
        sidecar=f"{CENTERFACE_ONNX}.sha256",
        audit=CENTERFACE_AUDIT,
    log:
        "results/logs/stage_centerface.log",
    benchmark:
        "results/benchmarks/stage_centerface.tsv"
    conda:
        "../../envs/convert.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/stage_centerface.py"


rule make_demo:
    output:
        "resources/demo/demo.mp4",
    log:
        "results/logs/make_demo.log",
    benchmark:
        "results/benchmarks/make_demo.tsv"
    conda:
        "../../envs/video.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    script:
        "../scripts/make_demo.py"


rule stage_models:
    input:
        YUNET_ONNX,
        RETINAFACE_ONNX,
        YUNET_AUDIT,
        RETINAFACE_AUDIT,
        [CENTERFACE_ONNX, CENTERFACE_AUDIT] if CENTERFACE else [],
