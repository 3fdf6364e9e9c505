"""The name-independent digest of ONNX graphs (btb.onnx_digest) on small hand-built models."""

from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from btb.onnx_digest import graph_digest


def _model(path: Path, names: dict[str, str] | None = None, weight: float = 1.0, alpha: float = 0.1,
           reverse: bool = False, swap: bool = False) -> Path:
    """x -> Sub(x, w) -> LeakyRelu(alpha) -> y, with every tensor and node name mapped through ``names``."""
    n = {k: k for k in ("x", "w", "d", "y", "sub", "act")} | (names or {})
    sub_inputs = [n["w"], n["x"]] if swap else [n["x"], n["w"]]
    nodes = [helper.make_node("Sub", sub_inputs, [n["d"]], name=n["sub"]),
             helper.make_node("LeakyRelu", [n["d"]], [n["y"]], name=n["act"], alpha=alpha)]
    graph = helper.make_graph(
        nodes[::-1] if reverse else nodes, "g",
        [helper.make_tensor_value_info(n["x"], TensorProto.FLOAT, [1, 3])],
        [helper.make_tensor_value_info(n["y"], TensorProto.FLOAT, [1, 3])],
        [numpy_helper.from_array(np.full((1, 3), weight, dtype=np.float32), n["w"])])
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13)]), str(path))
    return path


def test_names_and_node_order_do_not_change_the_digest(tmp_path: Path) -> None:
    base = graph_digest(_model(tmp_path / "a.onnx"))
    renamed = {"x": "input:0", "w": "const_fold_opt__2529", "d": "Sub__17:0", "y": "Identity:0",
               "sub": "Sub__17", "act": "LeakyRelu__9"}
    assert graph_digest(_model(tmp_path / "b.onnx", renamed)) == base
    assert graph_digest(_model(tmp_path / "c.onnx", renamed, reverse=True)) == base


def test_weights_attributes_and_wiring_change_the_digest(tmp_path: Path) -> None:
    base = graph_digest(_model(tmp_path / "a.onnx"))
    assert graph_digest(_model(tmp_path / "w.onnx", weight=1.0001)) != base
    assert graph_digest(_model(tmp_path / "al.onnx", alpha=0.2)) != base
    assert graph_digest(_model(tmp_path / "s.onnx", swap=True)) != base  # w - x is not x - w
