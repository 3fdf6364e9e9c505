"""The name-independent digest of ONNX graphs (btb.models.onnx_digest) on small hand-built models."""

import subprocess
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

from btb.models.onnx_digest import graph_digest


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


def _save(path: Path, nodes: list, inputs: list, outputs: list, inits: list | None = None,
          functions: list | None = None) -> Path:
    graph = helper.make_graph(nodes, "g", inputs, outputs, inits or [])
    opsets = [helper.make_opsetid("", 13)] + ([helper.make_opsetid("local", 1)] if functions else [])
    onnx.save(helper.make_model(graph, opset_imports=opsets, functions=functions or []), str(path))
    return path


def _io(name: str, shape: list | None = None) -> onnx.ValueInfoProto:
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape or [1, 3])


def test_an_omitted_output_is_not_an_omitted_input(tmp_path: Path) -> None:
    """Clip(a, <absent min>, mx) is not Clip(a, <TopK's second output>, mx), whatever the empty names."""
    mx = numpy_helper.from_array(np.array(5.0, dtype=np.float32), "mx")
    k = numpy_helper.from_array(np.array([3], dtype=np.int64), "k")

    def clip_after_topk(second_output: str, min_input: str) -> list:
        return [helper.make_node("TopK", ["x", "k"], ["a", second_output]),
                helper.make_node("Cast", ["a"], ["c"], to=TensorProto.FLOAT),
                helper.make_node("Clip", ["c", min_input, "mx"], ["y"])]

    omitted = _save(tmp_path / "o.onnx", clip_after_topk("", ""), [_io("x")], [_io("y")], [mx, k])
    wired = _save(tmp_path / "w.onnx", clip_after_topk("idx", "idx"), [_io("x")], [_io("y")], [mx, k])
    assert graph_digest(omitted) != graph_digest(wired)


def _if_model(path: Path, outer: str, then_op: str = "Relu") -> Path:
    """An If whose branches read a tensor of the enclosing graph (``outer``) without naming it as an input."""
    then = helper.make_graph([helper.make_node(then_op, [outer], ["t"])], "then", [], [_io("t")])
    other = helper.make_graph([helper.make_node("Neg", [outer], ["e"])], "else", [], [_io("e")])
    nodes = [helper.make_node("Abs", ["x"], [outer]),
             helper.make_node("If", ["cond"], ["y"], then_branch=then, else_branch=other)]
    cond = helper.make_tensor_value_info("cond", TensorProto.BOOL, [])
    return _save(path, nodes, [_io("x"), cond], [_io("y")])


def test_subgraphs_reading_the_enclosing_graph(tmp_path: Path) -> None:
    base = graph_digest(_if_model(tmp_path / "a.onnx", "abs_out"))
    assert graph_digest(_if_model(tmp_path / "b.onnx", "Abs__77:0")) == base
    assert graph_digest(_if_model(tmp_path / "c.onnx", "abs_out", then_op="Sigmoid")) != base


def test_string_constants_hash_the_same_in_every_process(tmp_path: Path) -> None:
    labels = helper.make_tensor("labels", TensorProto.STRING, [2], [b"face", b"head"])
    path = _save(tmp_path / "s.onnx", [helper.make_node("Constant", [], ["y"], value=labels)], [],
                 [helper.make_tensor_value_info("y", TensorProto.STRING, [2])])
    code = f"from btb.models.onnx_digest import graph_digest; print(graph_digest({str(path)!r}))"
    runs = {subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
            for _ in range(2)}
    assert runs == {graph_digest(path) + "\n"}


def test_an_overridable_weight_is_not_a_constant(tmp_path: Path) -> None:
    w = numpy_helper.from_array(np.ones((1, 3), dtype=np.float32), "w")
    nodes = [helper.make_node("Add", ["x", "w"], ["y"])]
    fixed = _save(tmp_path / "f.onnx", nodes, [_io("x")], [_io("y")], [w])
    overridable = _save(tmp_path / "o.onnx", nodes, [_io("x"), _io("w")], [_io("y")], [w])
    assert graph_digest(fixed) != graph_digest(overridable)


def test_local_function_bodies_count(tmp_path: Path) -> None:
    def with_body(op: str) -> Path:
        f = helper.make_function("local", "act", ["i"], ["o"], [helper.make_node(op, ["i"], ["o"])],
                                 [helper.make_opsetid("", 13)])
        return _save(tmp_path / f"{op}.onnx", [helper.make_node("act", ["x"], ["y"], domain="local")],
                     [_io("x")], [_io("y")], functions=[f])

    assert graph_digest(with_body("Relu")) != graph_digest(with_body("Neg"))
