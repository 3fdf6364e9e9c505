"""RetinaFace ResNet-50, the network of the ``retina-face`` package, converted once to ONNX at staging.

The network is built by the package's own model definition (``retinaface.model.retinaface_model.build_model``,
with its downloader replaced by our verified copy of ``retinaface.h5``) and converted with tf2onnx from a
``tf.function`` that takes float32 RGB 0-255 NHWC images of any size and returns the package's nine outputs
(per stride 32, 16 and 8: face probabilities, box deltas, landmark deltas). TensorFlow runs only here, in a
child process (the package needs tf_keras, which must be chosen before TensorFlow is first imported);
detection runs the ONNX file on onnxruntime (``btb.detect.retinaface_resnet50``).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from btb.audit.io import atomic_output
from btb.errors import ModelError

OPSET = 13


def convert_retinaface_resnet50(h5_path: str | Path, onnx_path: str | Path) -> dict[str, object]:
    """Build the network with the ``retina-face`` package, load ``h5_path`` and write ``onnx_path``;
    return the conversion record (converter, opset, package version, graph digest)."""
    with atomic_output(onnx_path) as tmp:
        env = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3",
               "PYTHONPATH": child_pythonpath()}
        proc = subprocess.run([sys.executable, "-m", "btb.models.resnet50", str(h5_path), str(tmp)],
                              capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise ModelError(f"converting RetinaFace ResNet-50 from {h5_path} failed: "
                             f"{proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else proc.returncode}")
        record = json.loads(proc.stdout.strip().splitlines()[-1])
        from btb.models.onnx_digest import graph_digest

        record["graph_sha256"] = graph_digest(tmp)
        record["graph_sha256_pinned"] = False  # the digest of a conversion of these weights, recorded
    return record


def child_pythonpath() -> str:
    """PYTHONPATH for the conversion process: the folder that holds this ``btb`` package first. A workflow job
    finds ``btb`` through its script's folder (``workflow/scripts/btb``), which a child process does not
    inherit; in a rule's conda environment nothing else provides it."""
    package_parent = str(Path(__file__).resolve().parents[2])
    return os.pathsep.join([package_parent, *filter(None, os.environ.get("PYTHONPATH", "").split(os.pathsep))])


def _convert(h5_path: str, onnx_path: str) -> dict[str, object]:
    """In a process with TF_USE_LEGACY_KERAS=1: the package's network with these weights, to ONNX."""
    from importlib import metadata

    import tensorflow as tf
    import tf2onnx
    from retinaface.model import retinaface_model

    retinaface_model.load_weights = lambda model: model  # the package's downloader: we bring the file
    model = retinaface_model.build_model()
    model.load_weights(h5_path)
    spec = (tf.TensorSpec((None, None, None, 3), tf.float32, name="data"),)
    function = tf.function(lambda x: model(x, training=False), input_signature=spec)
    tf2onnx.convert.from_function(function, input_signature=spec, opset=OPSET, output_path=onnx_path)
    return {"converter": f"tf2onnx {tf2onnx.__version__}", "opset": OPSET,
            "network": f"retina-face {metadata.version('retina-face')} retinaface.model.retinaface_model",
            "tensorflow": tf.__version__, "input": "float32 RGB 0-255, N x H x W x 3, any size",
            "outputs": "per stride 32, 16, 8: face probability (4), box deltas (8), landmark deltas (20)"}


if __name__ == "__main__":
    print(json.dumps(_convert(sys.argv[1], sys.argv[2])))
