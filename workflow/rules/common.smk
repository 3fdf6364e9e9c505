import os
import sys

from snakemake.exceptions import WorkflowError

# The btb package lives in src/. Job scripts find it through the link workflow/scripts/btb (Snakemake puts a
# script's folder on its path), which also works inside per-rule conda environments.
sys.path.insert(0, f"{workflow.basedir}/src")

from btb.audit.signing import (
    load_private_key,
    load_public_key,
    public_pem,
    resolve_signing_key,
)
from btb.config import (
    check_config_text,
    detectors,
    job_threads,
    side_by_side_threads,
    stage_config,
    validate_config,
)
from btb.detect.registry import DETECTORS as REGISTRY
from btb.evaluation.scenes import SCENE_NAMES
from btb.pipeline.codegraph import CodeGraph
from btb.pipeline.scheduler import keep_one_wakeup
from btb.samples import (
    DEMO_PATH,
    labeled_clips,
    output_suffix,
    resolve_samples,
    write_id_map,
)
from btb.video.probe import largest_frame_pixels

# Snakemake's scheduler would otherwise wake up once more a second for every job finished so far, and busy a
# core on runs of many videos (src/btb/pipeline/scheduler.py; docs/performance.md).
keep_one_wakeup()

# Every key the configuration leaves out takes its default from the schema (src/btb/schemas/), in place.
# An error names the configuration files and the key.
CONFIG_FILES = [str(f) for f in workflow.configfiles]
# Snakemake has already parsed these files (PyYAML shares aliased nodes, so an alias bomb loads small); check
# each one as `btb run` does before anything walks the values: anchors and aliases are refused, naming the file.
for _config_file in CONFIG_FILES:
    check_config_text(_config_file)
validate_config(config, " + ".join(CONFIG_FILES) or "config")

# What the stages see: a disabled optional detector leaves no key behind, so the workflow is then exactly the
# workflow of the others (same jobs, parameters and outputs). The evaluate target reads `config` (all detectors).
STAGE_CONFIG = stage_config(config)
FEATURES = config["features"]["enabled"]
# outputs.video false: the features (a zip) are the deliverable; nothing is blurred, encoded or verified
VIDEO_OUT = config["outputs"]["video"]
# the features tables as CSV too (an output of extract_features only when asked for)
FEATURES_CSV = (
    [f"results/{{vid}}/features/{n}.csv" for n in ("faces", "tracks", "frames")]
    if config["features"]["csv"]
    else []
)
DETECTORS = detectors(config)
# The configuration that shapes a video's processing (which videos are listed and how manifests are signed
# are not part of it).
INPUT_KEYS = ("samples", "input_dir", "input_ids", "input_map")
PROCESSING_CONFIG = {
    k: v for k, v in STAGE_CONFIG.items() if k not in (*INPUT_KEYS, "audit")
} | {"audit": {"allow_unsafe_settings": config["audit"]["allow_unsafe_settings"]}}
EVAL_CONFIG = {k: v for k, v in config.items() if k not in (*INPUT_KEYS, "audit")}
# Ed25519 private key that signs every manifest ($BTB_SIGNING_KEY overrides audit.signing_key); None: unsigned.
# Only its path travels (as a parameter: a new key re-signs); the key is read by write_manifest alone.
SIGNING_KEY = resolve_signing_key(config["audit"]["signing_key"])
# Checked now, before any job runs: a missing, passphrase-protected or non-Ed25519 key stops the run at once,
# naming the file. Its public half verifies the manifest before a release and trusts the run's own approvals.
SIGNING_PUBLIC = public_pem(load_private_key(SIGNING_KEY)) if SIGNING_KEY else ""
# Public keys whose signatures make a reviewer's approval count (audit.reviewer_keys, and the run's key).
TRUSTED_REVIEWERS = [
    public_pem(load_public_key(path)) for path in config["audit"]["reviewer_keys"]
] + ([SIGNING_PUBLIC] if SIGNING_PUBLIC else [])
SAMPLES = {
    s.video_id: s
    for s in resolve_samples(
        config["samples"], config["input_dir"], config["input_ids"]
    )
}
if config["input_dir"] and config["input_map"]:
    write_id_map(config["input_map"], list(SAMPLES.values()))
MODELS = config["models"]["dir"]
try:
    # a cluster executor spreads jobs over nodes: the submitting machine's --cores says nothing about them
    CORES = None if getattr(workflow, "non_local_exec", False) else workflow.cores
except WorkflowError:  # no --cores (linting)
    CORES = None
# Threads per evaluation job (detect.threads; `auto`: 1 when the videos are at least as many as the cores)
JOB_THREADS = job_threads(config["detect"]["threads"], len(SAMPLES), CORES)
# Threads per detection and verification job: also 1 when a few videos' independent jobs (a video's detectors
# and chunks side by side; its verification beside its feature extraction) are at least as many as the cores
# and no frame is larger than 720p (btb.config.side_by_side_threads)
FEW_VIDEOS = bool(CORES) and len(SAMPLES) < CORES
LARGEST_FRAME = (
    largest_frame_pixels([s.path for s in SAMPLES.values()])
    if FEW_VIDEOS and config["detect"]["threads"] == "auto"
    else None
)
DETECT_THREADS = side_by_side_threads(
    config["detect"]["threads"],
    len(SAMPLES),
    len(DETECTORS) * config["frames"]["chunks"],
    CORES,
    LARGEST_FRAME,
)
VERIFY_THREADS = side_by_side_threads(
    config["detect"]["threads"],
    len(SAMPLES),
    2 if FEATURES else 1,
    CORES,
    LARGEST_FRAME,
)
# Fewer videos than cores: each video's costliest detection job starts first and the others run beside it
# (several videos' jobs fill the cores in any order)
DETECT_PRIORITY = {
    det: (rank if FEW_VIDEOS else 0)
    for rank, det in enumerate(sorted(DETECTORS, key=lambda d: REGISTRY[d].frame_ms))
}
# frames.chunks > 1: detection (and blurring) run one job per chunk, and a gathering job joins each detector's
# chunk tables; with one chunk each detection job writes the video's table itself
CHUNKED = config["frames"]["chunks"] > 1
MERGE_MODE = config["merge"]["mode"]
# detect.device cuda: the onnxruntime detectors' jobs (detection, and verification, which runs every detector)
# ask the scheduler for a GPU and use the onnxruntime-gpu environment; YuNet (OpenCV) stays on the CPU.
GPUS = 1 if config["detect"]["device"] == "cuda" else 0
CPU_ENV = "../../envs/detect.yaml"
GPU_ENV = "../../envs/detect-gpu.yaml"
VERIFY_GPU = GPUS if any(REGISTRY[d].onnxruntime for d in DETECTORS) else 0
VERIFY_ENV = GPU_ENV if VERIFY_GPU else CPU_ENV

# Each rule's `code` parameter: a digest of its script and every btb module the script can reach (import
# graph, btb.pipeline.codegraph), so that editing package code reruns exactly the stages that run it.
CODE_GRAPH = CodeGraph(f"{workflow.basedir}/src")


def code(script):
    return CODE_GRAPH.digest(f"{workflow.basedir}/workflow/scripts/{script}")


def model_file(detector, cfg=config):
    """The staged model file a detector loads."""
    return REGISTRY[detector].model_path(MODELS, cfg["detect"][detector])


def model_audit(detector):
    """The audit record of a detector's staging job."""
    return REGISTRY[detector].audit_path(MODELS, config["detect"][detector])


def retinaface_files(backbone):
    """The model file and staging record of one RetinaFace backbone, whichever the configuration chooses."""
    options = {**config["detect"]["retinaface"], "backbone": backbone}
    spec = REGISTRY["retinaface"]
    return spec.model_path(MODELS, options), spec.audit_path(MODELS, options)


MODEL_AUDITS = [model_audit(d) for d in DETECTORS]


def detector_env(detector):
    return GPU_ENV if GPUS and REGISTRY[detector].onnxruntime else CPU_ENV


def detector_gpus(detector):
    return GPUS if REGISTRY[detector].onnxruntime else 0


def table_name(detector, scope):
    """A detection table's name: the first-stage detector's is its own; the others' carry their scope."""
    return detector if REGISTRY[detector].first_stage else f"{detector}_{scope}"


def detector_scope(detector):
    """Which frames a detector runs on: 'all', or 'cascade' (the frames the first stage leaves uncertain)."""
    if REGISTRY[detector].first_stage or MERGE_MODE != "cascade":
        return "all"
    return "all" if config["merge"]["cascade"][detector] == "all" else "cascade"


def detection_table(vid, detector):
    """The gathered detection table of one detector (named by its scope where it has one)."""
    return f"results/{vid}/detections/{table_name(detector, detector_scope(detector))}.parquet"


FIRST_STAGE = next(d for d in DETECTORS if REGISTRY[d].first_stage)


wildcard_constraints:
    vid="[A-Za-z0-9][A-Za-z0-9_.-]*",
    scope="all|cascade",
    chunk="[0-9]+of[0-9]+",
    table="|".join(table_name(d, s) for d in REGISTRY for s in ("all", "cascade")),


EVAL_SETS = {s["name"]: s for s in config["evaluate"]["image_sets"]}
EVAL_CLIPS = labeled_clips(config["evaluate"]["video_dir"])
SYNTHETIC = "resources/synthetic"
if config["evaluate"]["synthetic"]:
    EVAL_CLIPS |= {
        f"eval-{name}": {
            "video": f"{SYNTHETIC}/{name}.mp4",
            "gt": f"{SYNTHETIC}/{name}_gt.csv",
            "name": name,
        }
        for name in SCENE_NAMES
    }


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
    if path == DEMO_PATH or path.startswith(f"{SYNTHETIC}/"):  # made by the workflow
        return path
    return path if os.path.isfile(path) and os.access(path, os.R_OK) else []


def is_image(vid):
    return vid in SAMPLES and SAMPLES[vid].is_image


def chunk_labels(vid):
    """Chunk labels of a video (``1of4`` ...): frames.chunks contiguous frame ranges; one for a still image."""
    n = 1 if is_image(vid) else config["frames"]["chunks"]
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


def get_cascade_frames(wildcards):
    if wildcards.get("scope") == "cascade":
        return f"results/{wildcards.vid}/detections/cascade_frames.tsv"
    return []


def get_detection_tables(wildcards):
    """Every enabled detector's gathered table, in registry order (``params.detectors`` names them)."""
    return [detection_table(wildcards.vid, d) for d in DETECTORS]


def get_blurred_chunks(wildcards):
    """Blurred lossless chunks for encode_video to join; none with one chunk: encode_video then blurs while
    it encodes, and no blurred frame is written to disk."""
    chunks = chunk_labels(wildcards.vid)
    if len(chunks) == 1:
        return []
    return [f"results/{wildcards.vid}/work/blurred.{c}.nut" for c in chunks]


def get_deliverable(vid):
    """The de-identified file: <id>.deid.mp4 for videos; .jpg (JPEG input) or .png for still images; with
    outputs.video false the features zip, <id>.deid.features.zip."""
    if not VIDEO_OUT:
        return f"results/{vid}/{vid}.deid.features.zip"
    if is_image(vid):
        return f"results/{vid}/{vid}.deid.{output_suffix(SAMPLES[vid].path)}"
    return f"results/{vid}/{vid}.deid.mp4"


def get_deliverable_input(wildcards):
    return get_deliverable(wildcards.vid)


def get_output_check(wildcards):
    vid = wildcards.vid
    if not VIDEO_OUT:
        return f"results/{vid}/features_check.json"
    if is_image(vid):
        return f"results/{vid}/image_check.{output_suffix(SAMPLES[vid].path)}.json"
    return f"results/{vid}/output_check.json"


def get_stage_audits(wildcards):
    """The audit record of every job of a video, read off the rules that write them."""
    vid = wildcards.vid
    chunks = chunk_labels(vid)

    def audits(rule, **wc):
        return expand(getattr(rules, rule).output.audit, vid=vid, **wc)

    detect = [
        audits(f"detect_{d}", chunk=chunks, scope=detector_scope(d)) for d in DETECTORS
    ]
    gathered = (
        [
            audits("gather_detections", table=table_name(d, detector_scope(d)))
            for d in DETECTORS
        ]
        if CHUNKED
        else []
    )
    if not VIDEO_OUT:
        last = audits("bundle_features")
    elif is_image(vid):
        last = audits("blur_image", ext=output_suffix(SAMPLES[vid].path))
    else:
        blurred = audits("blur_frames", chunk=chunks) if len(chunks) > 1 else []
        last = blurred + audits("encode_video")
    cascade = audits("select_cascade_frames") if MERGE_MODE == "cascade" else []
    return [
        *audits("index_frames"),
        *(a for d in detect for a in d),
        *(a for g in gathered for a in g),
        *audits("merge_regions"),
        *(audits("extract_features") if FEATURES else []),
        *last,
        *(audits("verify_residual") if VIDEO_OUT else []),
        *cascade,
    ]


def feature_files(vid):
    """A video's features tables and sidecar (docs/features.md), when features are on."""
    if not FEATURES:
        return []
    names = ["faces", "tracks", "frames"]
    return [
        *(f"results/{vid}/features/{n}.parquet" for n in names),
        *(
            f"results/{vid}/features/{n}.csv"
            for n in names
            if config["features"]["csv"]
        ),
        f"results/{vid}/features/features.json",
    ]


def get_manifest_outputs(wildcards):
    """Files a video's manifest lists as outputs (deliverables), in a fixed order."""
    vid = wildcards.vid
    verification = [
        f"results/{vid}/verification/{name}"
        for name in ("flags.tsv", "review_items.tsv", "verdict.json")
    ]
    return [
        get_deliverable(vid),
        f"results/{vid}/regions.parquet",
        *(detection_table(vid, d) for d in DETECTORS),
        f"results/{vid}/frames.tsv",
        *(verification if VIDEO_OUT else []),
        get_output_check(wildcards),
        *feature_files(vid),
    ] + (
        [f"results/{vid}/detections/cascade_frames.tsv"]
        if MERGE_MODE == "cascade"
        else []
    )


def get_review_log(wildcards):
    """A video's review log (and its head) once a reviewer has decided on it."""
    log = f"results/{wildcards.vid}/review.jsonl"
    return [log, f"{log}.head"] if os.path.isfile(log) else []


def get_verification(name):
    """A video's verification file ``name`` (none with outputs.video false: there is no video to verify)."""

    def inner(wildcards):
        return f"results/{wildcards.vid}/verification/{name}" if VIDEO_OUT else []

    return inner


def get_manual_regions(wildcards):
    """The blur regions reviewers added to a video by hand, once there are any."""
    path = f"results/{wildcards.vid}/manual_regions.json"
    return [path] if os.path.isfile(path) else []


def get_manifest_records(wildcards):
    """Files the manifest vouches for beside the outputs: every stage's audit record, the probe, the release
    decision, the QA report, the review log and the reviewers' manual regions."""
    return [
        *get_stage_audits(wildcards),
        f"results/{wildcards.vid}/probe.json",
        f"results/{wildcards.vid}/release.json",
        *([f"results/{wildcards.vid}/qa_report.html"] if VIDEO_OUT else []),
        *get_review_log(wildcards),
        *get_manual_regions(wildcards),
    ]


def manifest_signature(vid="{vid}"):
    """The manifest's detached signature, an output only when a signing key is set."""
    return f"results/{vid}/manifest.json.sig" if SIGNING_KEY else []


def get_signatures(wildcards=None):
    return [manifest_signature(vid) for vid in sorted(SAMPLES)] if SIGNING_KEY else []


def get_eval_metrics(wildcards):
    files = [f"results/eval/{name}/metrics.json" for name in EVAL_SETS]
    if EVAL_CLIPS:
        files.append("results/eval/videos/metrics.json")
        if config["evaluate"]["review"]:
            files.append("results/eval/review/metrics.json")
    if not files:
        raise ValueError(
            "the evaluate target needs labeled data: set evaluate.image_sets and/or evaluate.video_dir "
            "(e.g. --configfile config/evaluate_shared.yaml)"
        )
    return files


def get_final_output():
    return (
        [
            f"results/{vid}/{name}"
            for vid in sorted(SAMPLES)
            for name in ("manifest.json", "publication.json", "qa_report.html")
            if VIDEO_OUT or name != "qa_report.html"
        ]
        + get_signatures()
        + ["results/summary.json", "results/summary.html"]
        + ["results/ro-crate-metadata.json"]
    )
