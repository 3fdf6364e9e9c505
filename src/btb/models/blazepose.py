"""BlazePose's two TFLite models (from the ``mediapipe==0.10.21`` wheel) converted to ONNX and packed into one
model file (a zip of ``pose_detection.onnx`` and ``pose_landmark_full.onnx``) that ``btb.detect.pose`` loads.

The pose detector stores most of its weights as sparse float16 tensors (TFLite ``DENSIFY`` and ``DEQUANTIZE``
ops) that tf2onnx cannot read. Before conversion they are made dense: TFLite's own interpreter runs the model
once with every tensor kept, and each ``DEQUANTIZE`` output (a constant: the dense float32 weights) becomes a
plain weight, the two ops and the sparse tensors removed. The result computes what the original computes
(checked at conversion: outputs within 1e-2 of TFLite's on a test image; measured 7e-4 and 5e-4). Needs
tensorflow-cpu and tf2onnx (``envs/convert.yaml``).

The landmark model also computes a 256x256 segmentation mask, 64x64 heatmaps and world landmarks, which the
head locator does not use. The converted graph keeps only what ``btb.detect.pose`` reads (the 39 landmarks
and the person score) and the operators they need: the head locator is a quarter faster (docs/performance.md),
and the kept outputs are bit-identical to the whole graph's (checked at conversion).
"""

from __future__ import annotations

import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from btb.audit.io import atomic_output
from btb.detect.pose import MEMBERS
from btb.errors import ModelError
from btb.models.staging import verify_model

OPSET = 13
# graph digests (btb.models.onnx_digest) of the converted models, tf2onnx 1.17.0 with tensorflow-cpu 2.21.0
GRAPH_DIGESTS: dict[str, str | None] = {
    "detector": "faedad57ea12138d1d7066898eaba3cd721997ce1408b9760836b6ed2d7c021f",
    "landmarks": "ffcaf65ac73d775ac0b946c9bd79a1d8fc2c8c0285926bb8f739f71162e2e835",
}
# output shapes ``btb.detect.pose`` reads, per model (None: every output); the others are pruned with the
# operators only they need
USED_OUTPUTS: dict[str, tuple[tuple[int, ...], ...] | None] = {"detector": None, "landmarks": ((1, 195), (1, 1))}
ZIP_DATE = (2025, 1, 31, 0, 0, 0)  # fixed member dates: the zip's bytes depend on its contents only
MAX_ERROR = 1e-2  # largest difference allowed between TFLite's and onnxruntime's outputs on the test image


def _densify(src: Path, dst: Path) -> int:
    """Write ``src`` with its DENSIFY/DEQUANTIZE weight chains replaced by dense float32 weights; returns the
    number of operators removed."""
    import tensorflow as tf
    from tensorflow.lite.python import schema_py_generated as schema
    from tensorflow.lite.tools import flatbuffer_utils

    model = flatbuffer_utils.read_model(str(src))
    interp = tf.lite.Interpreter(
        model_path=str(src), experimental_preserve_all_tensors=True,
        experimental_op_resolver_type=tf.lite.experimental.OpResolverType.BUILTIN_WITHOUT_DEFAULT_DELEGATES)
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    interp.set_tensor(inp["index"], np.zeros(inp["shape"], dtype=inp["dtype"]))
    interp.invoke()
    sg = model.subgraphs[0]

    def code(op: Any) -> int:
        c = model.operatorCodes[op.opcodeIndex]
        return max(c.builtinCode, c.deprecatedBuiltinCode)

    densified = {op.outputs[0] for op in sg.operators if code(op) == schema.BuiltinOperator.DENSIFY}

    def constant(tensor: int) -> bool:  # a weight: stored in the file, or made dense from one
        data = model.buffers[sg.tensors[tensor].buffer].data
        return tensor in densified or (data is not None and len(data) > 0)

    keep = []
    for op in sg.operators:
        kind = code(op)
        if kind == schema.BuiltinOperator.DEQUANTIZE and constant(op.inputs[0]):
            out = op.outputs[0]
            value = interp.get_tensor(out).astype(np.float32)
            buf = schema.BufferT()
            buf.data = np.frombuffer(value.tobytes(), dtype=np.uint8)
            model.buffers.append(buf)
            sg.tensors[out].buffer = len(model.buffers) - 1
            sg.tensors[out].type = schema.TensorType.FLOAT32
            continue
        if kind == schema.BuiltinOperator.DENSIFY:
            continue
        keep.append(op)
    removed = len(sg.operators) - len(keep)
    used = sorted({i for op in keep for i in [*op.inputs, *op.outputs] if i >= 0} | set(sg.inputs) | set(sg.outputs))
    remap = {old: new for new, old in enumerate(used)}
    sg.tensors = [sg.tensors[i] for i in used]
    for op in keep:
        op.inputs = [remap[i] if i >= 0 else i for i in op.inputs]
        op.outputs = [remap[i] for i in op.outputs]
    sg.inputs = [remap[i] for i in sg.inputs]
    sg.outputs = [remap[i] for i in sg.outputs]
    sg.operators = keep
    flatbuffer_utils.write_model(model, str(dst))
    return removed


def _test_image(shape: tuple[int, ...]) -> np.ndarray:
    """A real photograph (scikit-image's astronaut, public domain), resized to the model's input."""
    import cv2
    from skimage import data

    h, w = int(shape[1]), int(shape[2])
    return cv2.resize(data.astronaut(), (w, h)).astype(np.float32)


def _max_difference(tflite: Path, onnx_bytes: bytes, scale: tuple[float, float]) -> tuple[float, np.ndarray]:
    """Largest difference between TFLite's and onnxruntime's outputs (matched by name) on the test image, the
    segmentation output left out (large logits, not used); and the model input made of the test image."""
    import onnxruntime as ort
    import tensorflow as tf

    interp = tf.lite.Interpreter(model_path=str(tflite))
    interp.allocate_tensors()
    inp = interp.get_input_details()[0]
    x = (_test_image(tuple(inp["shape"])) * scale[0] + scale[1])[None].astype(np.float32)
    interp.set_tensor(inp["index"], x)
    interp.invoke()
    ref = {o["name"]: interp.get_tensor(o["index"]) for o in interp.get_output_details()}
    sess = ort.InferenceSession(onnx_bytes, providers=["CPUExecutionProvider"])
    got = dict(zip([o.name for o in sess.get_outputs()], sess.run(None, {sess.get_inputs()[0].name: x}),
                   strict=True))
    worst = 0.0
    for name, value in ref.items():
        if value.ndim == 4 and value.shape[-1] == 1:  # the segmentation mask
            continue
        if name not in got or got[name].shape != value.shape:
            raise ModelError(f"converted {tflite.name} has no output {name} of shape {value.shape}")
        worst = max(worst, float(np.abs(got[name] - value).max()))
    return worst, x


def _prune_outputs(path: Path, shapes: tuple[tuple[int, ...], ...], image: np.ndarray) -> list[str]:
    """Rewrite the ONNX model at ``path`` with only its outputs of the given ``shapes`` and the operators they
    need; returns the pruned outputs' names. The kept outputs must equal the whole graph's exactly on ``image``
    (an error otherwise)."""
    import onnx
    import onnxruntime as ort

    model = onnx.load(str(path))
    dims = {o.name: tuple(d.dim_value for d in o.type.tensor_type.shape.dim) for o in model.graph.output}
    keep = [name for name, shape in dims.items() if shape in shapes]
    if sorted(dims[k] for k in keep) != sorted(shapes):
        raise ModelError(f"{path.name}: expected outputs of shapes {shapes}, found {sorted(dims.values())}")
    pruned = onnx.utils.Extractor(model).extract_model([i.name for i in model.graph.input], keep)
    pruned.ir_version, pruned.producer_name = model.ir_version, model.producer_name
    pruned.producer_version, pruned.graph.name = model.producer_version, model.graph.name
    whole = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    part = ort.InferenceSession(pruned.SerializeToString(), providers=["CPUExecutionProvider"])
    feed = {model.graph.input[0].name: image}
    expected = dict(zip([o.name for o in whole.get_outputs()], whole.run(None, feed), strict=True))
    for name, value in zip(keep, part.run(keep, feed), strict=True):
        if not np.array_equal(value, expected[name]):
            raise ModelError(f"{path.name}: pruning changed output {name}")
    onnx.save(pruned, str(path))
    return [name for name in dims if name not in keep]


def convert_blazepose(detector_tflite: str | Path, landmark_tflite: str | Path, out_zip: str | Path
                      ) -> dict[str, object]:
    """Convert both models (checked against TFLite's outputs and their pinned graph digests) and write the zip."""
    verify_model("blazepose_detection", detector_tflite)
    verify_model("blazepose_landmark_full", landmark_tflite)
    try:
        import tensorflow as tf
        import tf2onnx
    except ImportError as exc:
        raise ModelError("converting BlazePose needs tensorflow-cpu and tf2onnx (envs/convert.yaml)") from exc
    from btb.models.convert import _checked_digest

    notes: dict[str, object] = {"converter": f"tf2onnx {tf2onnx.__version__}, tensorflow {tf.__version__}",
                                "opset": OPSET}
    blobs = {}
    with tempfile.TemporaryDirectory() as tmp:
        for part, src, scale in (("detector", Path(detector_tflite), (1 / 127.5, -1.0)),
                                 ("landmarks", Path(landmark_tflite), (1 / 255.0, 0.0))):
            dense = Path(tmp) / f"{part}.tflite"
            removed = _densify(src, dense)
            onnx_path = Path(tmp) / MEMBERS[part]
            tf2onnx.convert.from_tflite(str(dense), opset=OPSET, output_path=str(onnx_path))
            blob = onnx_path.read_bytes()
            err, test_input = _max_difference(src, blob, scale)
            if err > MAX_ERROR:
                raise ModelError(f"converted {src.name} differs from TFLite by {err:.4g} (> {MAX_ERROR})")
            pruned: list[str] = []
            used = USED_OUTPUTS[part]
            if used is not None:
                pruned = _prune_outputs(onnx_path, used, test_input)
                blob = onnx_path.read_bytes()
            digest = _checked_digest(onnx_path, GRAPH_DIGESTS[part], f"BlazePose {part}", str(notes["converter"]))
            notes[part] = {"member": MEMBERS[part], "operators_densified": removed, "max_difference": err,
                           "outputs_pruned": pruned,
                           "graph_sha256": digest, "graph_sha256_pinned": GRAPH_DIGESTS[part] is not None}
            blobs[MEMBERS[part]] = blob
    with atomic_output(out_zip) as tmp_zip, zipfile.ZipFile(tmp_zip, "w", zipfile.ZIP_STORED) as zf:
        for name in sorted(blobs):
            zf.writestr(zipfile.ZipInfo(name, date_time=ZIP_DATE), blobs[name])
    return notes
