"""A content digest of an ONNX model that does not depend on the names in it.

tf2onnx converts the same TensorFlow graph to a different file each time: its optimisers merge duplicate
nodes and constants in an order that varies from process to process, so node and tensor names (and with
them the file's sha256) change although the computation does not (measured on RetinaFace: six conversions,
six file hashes, identical detections). The file hash still proves which file a run used; this digest lets
an auditor see that two conversions are the same model, and lets staging pin the converted model.

Each tensor gets a hash from what produces it (Merkle style):
* a graph input: its position among the graph's inputs that have no initializer, and its element type and
  shape (symbolic dimensions count as "symbolic", whatever they are called);
* a weight: dtype, shape and values (sparse ones: values, indices and dense shape); a weight that is also a
  graph input (so a caller may override it) is marked as such;
* a node output: the node's op type, domain, attributes (type and value; subgraphs by their own digest, with
  the enclosing graph's tensors they read) and the hashes of its inputs, plus the output's position.
The digest hashes the opset imports, the model-local functions (by name, with their bodies) and the graph
outputs' hashes in order. Names of tensors and nodes never enter it; names of functions do (nodes call them by
name).
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import numpy as np

ABSENT = "absent"  # an optional input or output left out (empty name)


def _h(*parts: object) -> str:
    m = hashlib.sha256()
    for p in parts:
        m.update(p if isinstance(p, bytes) else repr(p).encode())
        m.update(b"\x00")
    return m.hexdigest()


def _array_hash(a: np.ndarray) -> str:
    if a.dtype == object:  # strings: their bytes, not the objects' addresses
        items = [x if isinstance(x, bytes) else str(x).encode() for x in a.ravel()]
        return _h("strings", a.shape, *items)
    return _h("tensor", a.dtype.str, a.shape, np.ascontiguousarray(a).tobytes())


def _tensor_hash(t: Any) -> str:
    from onnx import numpy_helper

    return _array_hash(numpy_helper.to_array(t))


def _sparse_hash(s: Any) -> str:
    return _h("sparse", list(s.dims), _tensor_hash(s.values), _tensor_hash(s.indices))


def _type_hash(t: Any) -> str:
    """A value's declared type with the names of symbolic dimensions left out."""
    from google.protobuf import text_format

    t = type(t).FromString(t.SerializeToString())
    stack = [t]
    while stack:  # clear every dim_param, however deeply the type nests (sequences, maps, optionals)
        msg = stack.pop()
        for field, value in msg.ListFields():
            if field.name == "dim_param":
                msg.dim_param = "symbolic"
            elif field.type == field.TYPE_MESSAGE:
                stack.extend(value if field.is_repeated else [value])
    return _h("type", text_format.MessageToString(t, as_one_line=True))


def _subgraphs(node: Any) -> list[Any]:
    import onnx

    out = []
    for a in node.attribute:
        if a.type == onnx.AttributeProto.GRAPH:
            out.append(a.g)
        elif a.type == onnx.AttributeProto.GRAPHS:
            out.extend(a.graphs)
    return out


def _free_names(graph: Any) -> set[str]:
    """Tensors a (sub)graph reads but does not define: its enclosing graphs' tensors."""
    defined = {i.name for i in graph.initializer} | {s.values.name for s in graph.sparse_initializer}
    defined |= {i.name for i in graph.input} | {o for n in graph.node for o in n.output}
    used = {x for n in graph.node for x in n.input if x}
    used |= {x for n in graph.node for g in _subgraphs(n) for x in _free_names(g)}
    used |= {o.name for o in graph.output}
    return used - defined


def _attribute(attr: Any, scope: dict[str, str]) -> tuple[str, str]:
    import onnx

    kind = attr.type
    if attr.ref_attr_name:  # inside a function: refers to the caller's attribute
        value = _h("ref", attr.ref_attr_name)
    elif kind == onnx.AttributeProto.TENSOR:
        value = _tensor_hash(attr.t)
    elif kind == onnx.AttributeProto.TENSORS:
        value = _h(*[_tensor_hash(t) for t in attr.tensors])
    elif kind == onnx.AttributeProto.SPARSE_TENSOR:
        value = _sparse_hash(attr.sparse_tensor)
    elif kind == onnx.AttributeProto.SPARSE_TENSORS:
        value = _h(*[_sparse_hash(s) for s in attr.sparse_tensors])
    elif kind == onnx.AttributeProto.GRAPH:
        value = _graph_digest(attr.g, scope)
    elif kind == onnx.AttributeProto.GRAPHS:
        value = _h(*[_graph_digest(g, scope) for g in attr.graphs])
    elif kind in (onnx.AttributeProto.TYPE_PROTO, onnx.AttributeProto.TYPE_PROTOS):
        types = [attr.tp] if kind == onnx.AttributeProto.TYPE_PROTO else list(attr.type_protos)
        value = _h(*[_type_hash(t) for t in types])
    else:
        value = repr(onnx.helper.get_attribute_value(attr))
    return attr.name, _h(kind, value)


def _nodes_digest(nodes: list[Any], value: dict[str, str]) -> None:
    """Give every node output in ``nodes`` its hash in ``value`` (which holds the tensors already known)."""
    pending = list(nodes)
    while pending:  # nodes are stored in topological order, but do not rely on it
        waiting = []
        for node in pending:
            subgraphs = _subgraphs(node)
            needs = [x for x in node.input if x] + [x for g in subgraphs for x in sorted(_free_names(g))]
            if not all(x in value for x in needs):
                waiting.append(node)
                continue
            attrs = sorted(_attribute(a, value) for a in node.attribute)
            h = _h("node", node.op_type, node.domain, attrs, [value[x] if x else ABSENT for x in node.input])
            for k, out in enumerate(node.output):
                if out:  # an omitted optional output defines nothing
                    value[out] = _h(h, k)
        if len(waiting) == len(pending):
            missing = sorted({x for n in waiting for x in n.input if x and x not in value})
            raise ValueError(f"ONNX graph has inputs no node, weight or graph input provides: {missing[:5]}")
        pending = waiting


def _graph_digest(graph: Any, outer: dict[str, str]) -> str:
    """Digest of a GraphProto; ``outer``: hashes of the enclosing graphs' tensors (for subgraphs)."""
    value: dict[str, str] = dict(outer)
    weights = {i.name: _tensor_hash(i) for i in graph.initializer}
    weights |= {s.values.name: _sparse_hash(s) for s in graph.sparse_initializer}
    position = 0
    for inp in graph.input:
        if inp.name in weights:
            value[inp.name] = _h("overridable", weights[inp.name])
        else:
            value[inp.name] = _h("input", position, _type_hash(inp.type))
            position += 1
    for name, h in weights.items():
        value.setdefault(name, h)
    _nodes_digest(list(graph.node), value)
    return _h("graph", [value[o.name] for o in graph.output])


def _function_digest(f: Any) -> str:
    value = {name: _h("function input", i) for i, name in enumerate(f.input)}
    _nodes_digest(list(f.node), value)
    opsets = sorted((o.domain, o.version) for o in f.opset_import)
    return _h("function", f.domain, f.name, getattr(f, "overload", ""), sorted(f.attribute), opsets,
              [value[o] for o in f.output])


def graph_digest(path: str | Path) -> str:
    """sha256-based digest of the ONNX model at ``path``: equal for models that compute the same thing with
    the same weights, whatever their tensor and node names or node order."""
    import onnx

    model = onnx.load(str(path))
    opsets = sorted((o.domain, o.version) for o in model.opset_import)
    functions = sorted(_function_digest(f) for f in model.functions)
    return _h("model", opsets, functions, _graph_digest(model.graph, {}))
