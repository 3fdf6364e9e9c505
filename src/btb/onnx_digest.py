"""A content digest of an ONNX graph that does not depend on the names in it.

tf2onnx converts the same TensorFlow graph to a different file each time: its optimisers merge duplicate
nodes and constants in an order that varies from process to process, so node and tensor names (and with
them the file's sha256) change although the computation does not (measured on RetinaFace: six conversions,
six file hashes, identical detections). The file hash still proves which file a run used; this digest lets
an auditor see that two conversions are the same model, and lets staging pin the converted model.

Each tensor gets a hash from what produces it: a graph input from its declared type, a weight from its
dtype, shape and bytes, a node's output from the node's op type, domain, attributes and the hashes of its
inputs (Merkle style). The digest is the hash of the opset imports and the graph outputs' hashes, in order.
Names never enter it.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np


def _h(*parts: object) -> str:
    m = hashlib.sha256()
    for p in parts:
        m.update(p if isinstance(p, bytes) else repr(p).encode())
        m.update(b"\x00")
    return m.hexdigest()


def _array_hash(a: np.ndarray) -> str:
    return _h("tensor", a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes())


def _attribute(attr: object) -> tuple[str, str]:
    import onnx
    from onnx import numpy_helper

    kind = attr.type  # type: ignore[attr-defined]
    if kind == onnx.AttributeProto.TENSOR:
        value = _array_hash(numpy_helper.to_array(attr.t))  # type: ignore[attr-defined]
    elif kind == onnx.AttributeProto.TENSORS:
        value = _h(*[_array_hash(numpy_helper.to_array(t)) for t in attr.tensors])  # type: ignore[attr-defined]
    elif kind in (onnx.AttributeProto.GRAPH, onnx.AttributeProto.GRAPHS):
        graphs = [attr.g] if kind == onnx.AttributeProto.GRAPH else list(attr.graphs)  # type: ignore[attr-defined]
        value = _h(*[_graph_digest(g, {}) for g in graphs])
    else:
        value = repr(onnx.helper.get_attribute_value(attr))
    return attr.name, value  # type: ignore[attr-defined]


def _graph_digest(graph: object, outer: dict[str, str]) -> str:
    """Digest of a GraphProto; ``outer``: hashes of the enclosing graph's tensors (for subgraphs)."""
    from onnx import numpy_helper

    value: dict[str, str] = dict(outer)
    value[""] = "absent"  # an optional input left out
    for init in graph.initializer:  # type: ignore[attr-defined]
        value[init.name] = _array_hash(numpy_helper.to_array(init))
    for position, inp in enumerate(graph.input):  # type: ignore[attr-defined]
        if inp.name not in value:
            value[inp.name] = _h("input", position, inp.type.SerializeToString())
    pending = list(graph.node)  # type: ignore[attr-defined]
    while pending:  # nodes are stored in topological order, but do not rely on it
        waiting = []
        for node in pending:
            if all(x in value for x in node.input):
                attrs = sorted(_attribute(a) for a in node.attribute)
                h = _h("node", node.op_type, node.domain, attrs, [value[x] for x in node.input])
                for k, out in enumerate(node.output):
                    value[out] = _h(h, k)
            else:
                waiting.append(node)
        if len(waiting) == len(pending):
            missing = sorted({x for n in waiting for x in n.input if x not in value})
            raise ValueError(f"ONNX graph has inputs no node, weight or graph input provides: {missing[:5]}")
        pending = waiting
    return _h("graph", [value[o.name] for o in graph.output])  # type: ignore[attr-defined]


def graph_digest(path: str | Path) -> str:
    """sha256-based digest of the ONNX model at ``path``: equal for models that compute the same thing with
    the same weights, whatever their node and tensor names or node order."""
    import onnx

    model = onnx.load(str(path))
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    return _h("model", opsets, _graph_digest(model.graph, {}))
