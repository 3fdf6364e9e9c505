# Model staging: a verified copy of each source model (from the mirror or its origin) and, where detection
# needs another form, its conversion; files and audit records under models.dir (names from the registry).
rule stage_yunet:
    output:
        model=model_file("yunet"),
        audit=model_audit("yunet"),
    log:
        "results/logs/stage_yunet.log",
    benchmark:
        "results/benchmarks/stage_yunet.tsv"
    conda:
        "../../envs/convert.yaml"
    resources:
        mem_mb=500,
        runtime=10,
    params:
        code=code("stage_yunet.py"),
    script:
        "../scripts/stage_yunet.py"


rule stage_retinaface:
    output:
        graph=f"{MODELS}/retinaface_mobilenetv2_frozen_graph.pb",
        onnx=retinaface_files("mobilenetv2")[0],
        sidecar=f"{retinaface_files('mobilenetv2')[0]}.sha256",
        audit=retinaface_files("mobilenetv2")[1],
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
        code=code("stage_retinaface.py"),
        score_floor=config["detect"]["retinaface"]["score_floor"],
    script:
        "../scripts/stage_retinaface.py"


# detect.retinaface.backbone: resnet50 -- the retina-face package's network and weights (118 MB)
rule stage_retinaface_resnet50:
    output:
        weights=f"{MODELS}/retinaface.h5",
        onnx=retinaface_files("resnet50")[0],
        sidecar=f"{retinaface_files('resnet50')[0]}.sha256",
        audit=retinaface_files("resnet50")[1],
    log:
        "results/logs/stage_retinaface_resnet50.log",
    benchmark:
        "results/benchmarks/stage_retinaface_resnet50.tsv"
    conda:
        "../../envs/convert.yaml"
    resources:
        mem_mb=10000,  # measured peak of the conversion: 8.1 GB
        runtime=30,
    params:
        code=code("stage_retinaface_resnet50.py"),
    script:
        "../scripts/stage_retinaface_resnet50.py"


rule stage_centerface:
    output:
        model=f"{MODELS}/centerface.onnx",
        onnx=model_file("centerface"),
        sidecar=f"{model_file('centerface')}.sha256",
        audit=model_audit("centerface"),
    log:
        "results/logs/stage_centerface.log",
    benchmark:
        "results/benchmarks/stage_centerface.tsv"
    conda:
        "../../envs/convert.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("stage_centerface.py"),
    script:
        "../scripts/stage_centerface.py"


rule stage_pose:
    output:
        detector=f"{MODELS}/pose_detection.tflite",
        landmarks=f"{MODELS}/pose_landmark_full.tflite",
        model=model_file("pose"),
        sidecar=f"{model_file('pose')}.sha256",
        audit=model_audit("pose"),
    log:
        "results/logs/stage_pose.log",
    benchmark:
        "results/benchmarks/stage_pose.tsv"
    conda:
        "../../envs/convert.yaml"
    resources:
        mem_mb=3000,
        runtime=20,
    params:
        code=code("stage_pose.py"),
    script:
        "../scripts/stage_pose.py"


rule make_demo:
    output:
        DEMO_PATH,
    log:
        "results/logs/make_demo.log",
    benchmark:
        "results/benchmarks/make_demo.tsv"
    conda:
        "../../envs/video.yaml"
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        code=code("make_demo.py"),
    script:
        "../scripts/make_demo.py"


rule stage_models:
    input:
        [model_file(d) for d in DETECTORS],
        MODEL_AUDITS,
