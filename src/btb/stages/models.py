"""Model staging stages (environment ``envs/convert.yaml``): a verified copy of each source model, converted
where detection needs another form, with an audit record of where it came from."""

from __future__ import annotations

from typing import Any

from btb.audit.records import stage_record
from btb.models import convert
from btb.models.sources import SOURCES
from btb.models.staging import stage_model, write_sidecar


def _source(model_id: str) -> dict[str, Any]:
    s = SOURCES[model_id]
    return {"model_id": s.model_id, "pinned_sha256": s.sha256, "origin": s.origin, "licence": s.licence}


def stage_yunet(*, model: str, audit: str, mirror: str | None) -> None:
    with stage_record("stage_yunet", None, {"mirror": mirror, **_source("yunet_2023mar")}, audit) as rec:
        stage_model("yunet_2023mar", model, mirror)
        rec.add_outputs(model)


def stage_retinaface(*, graph: str, onnx: str, audit: str, mirror: str | None, score_floor: float) -> None:
    params = {"mirror": mirror, "score_floor": score_floor, **_source("retinaface_mnv2")}
    with stage_record("stage_retinaface", None, params, audit) as rec:
        stage_model("retinaface_mnv2", graph, mirror)
        rec.notes["conversion"] = convert.convert_retinaface(graph, onnx, score_floor)
        rec.add_outputs(graph, onnx, write_sidecar(onnx))


def stage_centerface(*, source: str, onnx: str, audit: str, mirror: str | None) -> None:
    with stage_record("stage_centerface", None, {"mirror": mirror, **_source("centerface")}, audit) as rec:
        stage_model("centerface", source, mirror)
        rec.notes["conversion"] = convert.convert_centerface(source, onnx)
        rec.add_outputs(source, onnx, write_sidecar(onnx))


def stage_retinaface_resnet50(*, weights: str, onnx: str, audit: str, mirror: str | None) -> None:
    """The retina-face package's ResNet-50 weights (``retinaface.h5``, pinned), its network converted to ONNX."""
    from btb.models.resnet50 import convert_retinaface_resnet50

    with stage_record("stage_retinaface_resnet50", None, {"mirror": mirror, **_source("retinaface_resnet50")},
                      audit) as rec:
        stage_model("retinaface_resnet50", weights, mirror)
        rec.notes["conversion"] = convert_retinaface_resnet50(weights, onnx)
        rec.add_outputs(weights, onnx, write_sidecar(onnx))



def stage_pose(*, detector: str, landmarks: str, model: str, audit: str, mirror: str | None) -> None:
    """BlazePose's two TFLite models from the pinned mediapipe wheel, converted to ONNX and packed into one file
    (``btb.models.blazepose``)."""
    from btb.models.blazepose import convert_blazepose

    params = {"mirror": mirror, "detector": _source("blazepose_detection"),
              "landmarks": _source("blazepose_landmark_full")}
    with stage_record("stage_pose", None, params, audit) as rec:
        stage_model("blazepose_detection", detector, mirror)
        stage_model("blazepose_landmark_full", landmarks, mirror)
        rec.notes["conversion"] = convert_blazepose(detector, landmarks, model)
        rec.add_outputs(detector, landmarks, model, write_sidecar(model))
