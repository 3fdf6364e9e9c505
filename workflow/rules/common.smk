import os
import sys

# The btb package lives in src/. Job scripts find it through the link workflow/scripts/btb (Snakemake puts a
# script's folder on its path), which also works inside per-rule conda environments.
sys.path.insert(0, f"{workflow.basedir}/src")

from btb.config import detectors, stage_config, validate_config
from btb.hashing import source_digest
from btb.image import output_suffix
from btb.samples import DEMO_PATH, labeled_clips, resolve_samples
from btb.signing import resolve_signing_key

validate_config(config, "config")

# What the stages see: a disabled CenterFace leaves no key behind, so the workflow is then exactly the
# two-detector one (same jobs, parameters and outputs). The evaluate target reads `config` (all detectors).
STAGE_CONFIG = stage_config(config)
DETECTORS = detectors(config)
CENTERFACE = "centerface" in DETECTORS
# The configuration that shapes a video's processing (which videos are listed and how manifests are signed
# are not part of it).
PROCESSING_CONFIG = {
    k: v for k, v in STAGE_CONFIG.items() if k not in ("samples", "input_dir", "audit")
}
# The evaluate target scores every detector, CenterFace included, whatever detect.centerface.enabled says.
EVAL_CONFIG = {
    k: v for k, v in config.items() if k not in ("samples", "input_dir", "audit")
}
# Ed25519 private key that signs every manifest ($BTB_SIGNING_KEY overrides audit.signing_key); None: unsigned.
# Only its path travels (as a parameter: a new key re-signs); the key is read by write_manifest alone.
SIGNING_KEY = resolve_signing_key(config.get("audit", {}).get("signing_key", ""))
SAMPLES = {
    s.video_id: s for s in resolve_samples(config["samples"], config["input_dir"])
}
MODELS = config["models"]["dir"]
MERGE_MODE = config["merge"]["mode"]
RF_FLOOR = config["detect"]["retinaface"]["score_floor"]
RETINAFACE_ONNX = f"{MODELS}/retinaface_mnv2_floor{RF_FLOOR}.onnx"
RETINAFACE_AUDIT = f"{MODELS}/stage_retinaface_floor{RF_FLOOR}.audit.json"
YUNET_ONNX = f"{MODELS}/face_detection_yunet_2023mar.onnx"
YUNET_AUDIT = f"{MODELS}/stage_yunet.audit.json"
CENTERFACE_ONNX = f"{MODELS}/centerface_dynamic.onnx"
CENTERFACE_AUDIT = f"{MODELS}/stage_centerface.audit.json"
MODEL_ONNX = {
    "yunet": YUNET_ONNX,
    "retinaface": RETINAFACE_ONNX,
    "centerface": CENTERFACE_ONNX,
}
MODEL_AUDITS = [YUNET_AUDIT, RETINAFACE_AUDIT] + (
    [CENTERFACE_AUDIT] if CENTERFACE else []
)
# detect.device cuda: RetinaFace's and CenterFace's jobs (detection and residual verification) ask the
# scheduler for a GPU and use the onnxruntime-gpu environment; YuNet (OpenCV) stays on the CPU.
GPUS = 1 if config["detect"]["device"] == "cuda" else 0
RETINAFACE_ENV = "../../envs/detect-gpu.yaml" if GPUS else "../../envs/detect.yaml"

# The package modules each stage's work depends on (beyond its thin script and btb/stages.py, the glue): a
# digest of them is a rule parameter, so an edit reruns that stage and what follows, and nothing else.
STAGE_CODE = {
    "probe_video": ["video/probe.py", "video/ffmpeg.py", "image.py"],
    "index_frames": ["video/frames.py", "video/ffmpeg.py"],
    "detect_yunet": [
        "detect/base.py",
        "detect/yunet.py",
        "video/frames.py",
        "image.py",
    ],
    "detect_retinaface": [
        "detect/base.py",
        "detect/retinaface.py",
        "video/frames.py",
        "image.py",
    ],
    "detect_centerface": [
        "detect/base.py",
        "detect/centerface.py",
        "detect/retinaface.py",
        "video/frames.py",
        "image.py",
    ],
    "gather_detections": ["tables.py"],
    "select_cascade_frames": ["cascade.py", "tables.py"],
    "merge_regions": ["merge.py", "temporal.py", "boxes.py", "tables.py"],
    "blur_frames": ["blur.py", "video/frames.py"],
    "blur_image": ["blur.py", "image.py"],
    "encode_video": [
        "video/encode.py",
        "video/frames.py",
        "output_check.py",
        "blur.py",
    ],
    "verify_residual": [
        "residual.py",
        "detect/base.py",
        "detect/yunet.py",
        "detect/retinaface.py",
    ]
    + (["detect/centerface.py"] if CENTERFACE else []),
}
CODE = {
    stage: source_digest(f"{workflow.basedir}/src/btb", files)
    for stage, files in STAGE_CODE.items()
}


wildcard_constraints:
    vid="[A-Za-z0-9][A-Za-z0-9_.-]*",
    scope="all|cascade",
    chunk="[0-9]+of[0-9]+",
    table="yunet|retinaface_all|retinaface_cascade|centerface_all|centerface_cascade",


EVAL_SETS = {s["name"]: s for s in config["evaluate"]["image_sets"]}
EVAL_CLIPS = labeled_clips(config["evaluate"]["video_dir"])


def maybe_temp(path):
    """Face-bearing intermediates (blurred lossless chunks) are temporary unless frames.keep_intermediates."""
    return path if config["frames"]["keep_intermediates"] else temp(path)


def get_video_path(wildcards):
    if wildcards.vid in EVAL_CLIPS:
        return EVAL_CLIPS[wildcards.vid]["video"]
    return SAMPLES[wildcards.vid].path


def get_video(wildcards):
    """The input file, or nothing when it is missing or unreadable: then probe_video (which gets the path as a
    parameter) fails for that video alone with an error naming the file, and the other videos go on. (Given
    an unreadable input, Snakemake itself would stop the whole run when it checksums the job's inputs.)
    """
    path = get_video_path(wildcards)
    if path == DEMO_PATH:
        return path
    return path if os.path.isfile(path) and os.access(path, os.R_OK) else []


def chunk_labels(vid):
    """Chunk labels of a video (``1of4`` ...): frames.chunks contiguous frame ranges; one for a still image."""
    n = 1 if vid in SAMPLES and SAMPLES[vid].is_image else config["frames"]["chunks"]
    return [f"{k}of{n}" for k in range(1, n + 1)]


def get_detection_chunks(wildcards):
    return [
        f"results/{wildcards.vid}/detections/chunks/{wildcards.table}.{c}.parquet"
        for c in chunk_labels(wildcards.vid)
    ]


def get_detection_chunk_audits(wildcards):
    return [
        f"results/{wildcards.vid}/audit/detect_{wildcards.table}.{c}.json"
        for c in chunk_labels(wildcards.vid)
    ]


def get_blurred_chunks(wildcards):
    """Blurred lossless chunks for encode_video to join; none with one chunk: encode_video then blurs while
    it encodes, and no blurred frame is written to disk."""
    chunks = chunk_labels(wildcards.vid)
    if len(chunks) == 1:
        return []
    return [f"results/{wildcards.vid}/work/blurred.{c}.nut" for c in chunks]


def get_model(wildcards):
    return MODEL_ONNX[wildcards.detector]


def get_eval_metrics(wildcards):
    if (
        "centerface" not in config["detect"]
        or "centerface" not in config["merge"]["thresholds"]
    ):
        raise ValueError(
            "the evaluate target scores CenterFace too: the configuration needs detect.centerface and "
            "merge.thresholds.centerface (see config/config.yaml)"
        )
    files = [f"results/eval/{name}/metrics.json" for name in EVAL_SETS]
    if EVAL_CLIPS:
        files.append("results/eval/videos/metrics.json")
    if not files:
        raise ValueError(
            "the evaluate target needs labeled data: set evaluate.image_sets and/or evaluate.video_dir "
            "(e.g. --configfile config/evaluate_shared.yaml)"
        )
    return files


def detector_scope(detector):
    """Which frames a detector runs on: 'all', or 'cascade' (the frames YuNet leaves uncertain)."""
    if detector == "yunet" or MERGE_MODE != "cascade":
        return "all"
    if detector == "centerface" and config["merge"]["cascade"]["centerface"] == "all":
        return "all"
    return "cascade"


def detection_table(vid, detector):
    """The gathered detection table of one detector (named by its scope where it has one)."""
    if detector == "yunet":
        return f"results/{vid}/detections/yunet.parquet"
    return f"results/{vid}/detections/{detector}_{detector_scope(detector)}.parquet"


def get_retinaface_table(wildcards):
    return detection_table(wildcards.vid, "retinaface")


def get_centerface_table(wildcards):
    """CenterFace's table when it is enabled; nothing otherwise (the rule then runs as before)."""
    return detection_table(wildcards.vid, "centerface") if CENTERFACE else []


def get_cascade_frames(wildcards):
    if wildcards.scope == "cascade":
        return f"results/{wildcards.vid}/detections/cascade_frames.tsv"
    return []


def get_deliverable(vid):
    """The de-identified file: <id>.deid.mp4 for videos; .jpg (JPEG input) or .png for still images."""
    sample = SAMPLES[vid]
    if sample.is_image:
        return f"results/{vid}/{vid}.deid.{output_suffix(sample.path)}"
    return f"results/{vid}/{vid}.deid.mp4"


def get_deliverable_input(wildcards):
    return get_deliverable(wildcards.vid)


def get_output_check(wildcards):
    sample = SAMPLES[wildcards.vid]
    if sample.is_image:
        return f"results/{wildcards.vid}/image_check.{output_suffix(sample.path)}.json"
    return f"results/{wildcards.vid}/output_check.json"


def get_stage_audits(wildcards):
    vid = wildcards.vid
    chunks = chunk_labels(vid)
    if SAMPLES[vid].is_image:
        last = [f"blur_image.{output_suffix(SAMPLES[vid].path)}"]
    else:
        blurred = [f"blur_frames.{c}" for c in chunks] if len(chunks) > 1 else []
        last = [*blurred, "encode_video"]
    detect = ["detect_yunet"] + [
        f"detect_{d}_{detector_scope(d)}" for d in DETECTORS if d != "yunet"
    ]
    stages = [
        "index_frames",
        *(f"{d}.{c}" for d in detect for c in chunks),
        *detect,
        "merge_regions",
        *last,
        "verify_residual",
    ]
    if MERGE_MODE == "cascade":
        stages.append("select_cascade_frames")
    return [f"results/{vid}/audit/{s}.json" for s in stages]


def get_manifest_outputs(wildcards):
    """Files a video's manifest lists as outputs (deliverables), in a fixed order."""
    vid = wildcards.vid
    return [
        get_deliverable(vid),
        f"results/{vid}/regions.parquet",
        *(detection_table(vid, d) for d in DETECTORS),
        f"results/{vid}/frames.tsv",
        f"results/{vid}/verification/flags.tsv",
        f"results/{vid}/verification/verdict.json",
        get_output_check(wildcards),
    ] + (
        [f"results/{vid}/detections/cascade_frames.tsv"]
        if MERGE_MODE == "cascade"
        else []
    )


def manifest_signature(vid="{vid}"):
    """The manifest's detached signature, an output only when a signing key is set."""
    return f"results/{vid}/manifest.json.sig" if SIGNING_KEY else []


def get_signatures(wildcards=None):
    return [manifest_signature(vid) for vid in sorted(SAMPLES)] if SIGNING_KEY else []


def get_final_output():
    return (
        [
            f"results/{vid}/{name}"
            for vid in sorted(SAMPLES)
            for name in ("manifest.json", "release.json", "qa_report.html")
        ]
        + get_signatures()
        + ["results/summary.json", "results/summary.html"]
        + ["results/ro-crate-metadata.json"]
    )
