"""RetinaFace ResNet-50 (detect.retinaface.backbone: resnet50) without the real weights.

The real ``retinaface.h5`` cannot be downloaded here, so these tests build the same network with the
``retina-face`` package and seeded random weights, save it as an ``.h5`` and send it through the real staging
path (a pin that only these tests set, by patching ``btb.models.sources.SOURCES`` in this process). They check
that the ONNX graph gives the Keras network's raw outputs on real frames, that the project's decode matches the
package's own post-processing, and that a file off its pin is refused.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import cv2
import numpy as np
import pytest

from btb.audit.hashing import sha256_file
from btb.detect import retinaface_resnet50 as r50
from btb.errors import ModelError
from btb.models import sources, staging
from btb.models.sources import ModelSource

pytest.importorskip("retinaface", reason="retina-face is installed by setup.sh (requirements-nodeps.lock)")

TF_ENV = {**os.environ, "TF_USE_LEGACY_KERAS": "1", "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}

# Builds the package's network with seeded random weights, saves them as .h5, then (like the package at run
# time) builds a fresh network, loads the .h5 and writes its raw outputs on the given frames.
KERAS_SCRIPT = textwrap.dedent("""
    import sys
    import numpy as np
    import tf_keras
    from retinaface.model import retinaface_model

    h5, frames, out = sys.argv[1:4]
    retinaface_model.load_weights = lambda model: model  # the package's downloader: the weights come from h5
    tf_keras.utils.set_random_seed(20261205)
    model = retinaface_model.build_model()
    rng = np.random.default_rng(7)
    for layer in model.layers:  # realistic batch-norm statistics, so activations neither vanish nor explode
        if isinstance(layer, tf_keras.layers.BatchNormalization):
            gamma, beta, mean, var = layer.get_weights()
            layer.set_weights([gamma, beta, rng.normal(0, 0.1, mean.shape).astype("float32"),
                               rng.uniform(0.5, 2.0, var.shape).astype("float32")])
    model.save_weights(h5)
    fresh = retinaface_model.build_model()
    fresh.load_weights(h5)
    images = np.load(frames)
    result = {}
    for name in images.files:
        outputs = fresh(images[name][None].astype("float32"), training=False)
        for i, o in enumerate(outputs):
            result[f"{name}/{i}"] = o.numpy()
    np.savez(out, **result)
""")


def first_frame(clip: Path) -> np.ndarray:
    cap = cv2.VideoCapture(str(clip))
    ok, bgr = cap.read()
    cap.release()
    assert ok
    return bgr


def real_frames(face_clip: Path) -> dict[str, np.ndarray]:
    """RGB float frames: one 640x360 frame of the real-face clip, and the same face at an odd size."""
    bgr = first_frame(face_clip)
    odd = cv2.resize(bgr, (333, 201), interpolation=cv2.INTER_AREA)
    return {"clip_640x360": bgr[:, :, ::-1].astype(np.float32), "odd_333x201": odd[:, :, ::-1].astype(np.float32)}


@pytest.fixture(scope="module")
def random_network(tmp_path_factory, face_clip):
    """(h5 path, frames, Keras outputs) of the package's ResNet-50 with seeded random weights."""
    work = tmp_path_factory.mktemp("resnet50")
    frames = real_frames(face_clip)
    np.savez(work / "frames.npz", **frames)
    h5 = work / "retinaface.h5"
    proc = subprocess.run([sys.executable, "-c", KERAS_SCRIPT, str(h5), str(work / "frames.npz"),
                           str(work / "keras.npz")], env=TF_ENV, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    keras = np.load(work / "keras.npz")
    outputs = {name: [keras[f"{name}/{i}"] for i in range(9)] for name in frames}
    return h5, frames, outputs


@pytest.fixture(scope="module")
def test_pin(random_network):
    """The pin of the random weights, in place of the real file's (this process only)."""
    h5 = random_network[0]
    real = sources.SOURCES["retinaface_resnet50"]
    return ModelSource(model_id=real.model_id, filename=real.filename, sha256=sha256_file(h5),
                       bytes=h5.stat().st_size, origin="tests: seeded random weights",
                       url="https://invalid.example/retinaface.h5", licence="test")


@pytest.fixture(scope="module")
def staged(random_network, test_pin, tmp_path_factory):
    """The random weights staged from a mirror folder and converted by the real staging function."""
    from btb.stages.models import stage_retinaface_resnet50

    mirror = tmp_path_factory.mktemp("mirror")
    (mirror / "retinaface.h5").write_bytes(random_network[0].read_bytes())
    models = tmp_path_factory.mktemp("models")
    with pytest.MonkeyPatch.context() as mp:
        mp.setitem(sources.SOURCES, "retinaface_resnet50", test_pin)
        stage_retinaface_resnet50(weights=str(models / "retinaface.h5"), onnx=str(models / "retinaface_resnet50.onnx"),
                                  audit=str(models / "stage_retinaface_resnet50.audit.json"), mirror=str(mirror))
    return models


def test_staging_records_the_conversion(staged, test_pin):
    audit = json.loads((staged / "stage_retinaface_resnet50.audit.json").read_text())
    assert audit["params"]["model_id"] == "retinaface_resnet50"
    conversion = audit["notes"]["conversion"]
    assert conversion["network"].startswith("retina-face 0.0.19")
    assert conversion["converter"].startswith("tf2onnx") and conversion["opset"] == r50_opset()
    outputs = {Path(o["path"]).name: o["sha256"] for o in audit["outputs"]}
    assert outputs["retinaface.h5"] == test_pin.sha256
    onnx = staged / "retinaface_resnet50.onnx"
    assert outputs["retinaface_resnet50.onnx"] == sha256_file(onnx)
    assert (staged / "retinaface_resnet50.onnx.sha256").read_text().split()[0] == sha256_file(onnx)


def r50_opset() -> int:
    from btb.models.resnet50 import OPSET

    return OPSET


def onnx_outputs(staged: Path, image_rgb: np.ndarray) -> list[np.ndarray]:
    import onnxruntime as ort

    session = ort.InferenceSession(str(staged / "retinaface_resnet50.onnx"), providers=["CPUExecutionProvider"])
    return session.run(None, {session.get_inputs()[0].name: image_rgb[None]})


def test_onnx_gives_the_keras_outputs_on_real_frames(staged, random_network):
    """(a) Same raw outputs: every map, same shapes; largest difference 1e-4 of the largest output."""
    _, frames, keras = random_network
    for name, image in frames.items():
        ours = r50.sort_outputs(onnx_outputs(staged, image))
        theirs = r50.sort_outputs(keras[name])
        for stride in theirs:
            for kind in theirs[stride]:
                a, b = ours[stride][kind], theirs[stride][kind]
                assert a.shape == b.shape, (name, stride, kind)
                scale = max(1.0, float(np.abs(b).max()))
                assert float(np.abs(a - b).max()) <= 1e-4 * scale, (name, stride, kind, float(np.abs(a - b).max()))


@pytest.fixture(scope="module")
def package_detect(tmp_path_factory):
    """The retina-face package's ``detect_faces`` on raw outputs we hand it (its onnx backend takes any callable
    as the model, so TensorFlow is not imported here)."""
    os.environ["DEEPFACE_BACKEND_ENGINE"] = "onnx"
    try:
        from retinaface import RetinaFace
    finally:
        del os.environ["DEEPFACE_BACKEND_ENGINE"]

    def detect(image_bgr: np.ndarray, outputs: list[np.ndarray], threshold: float) -> dict:
        return RetinaFace.detect_faces(image_bgr, threshold=threshold, model=lambda _: [o.copy() for o in outputs],
                                       allow_upscaling=False)

    return detect


def assert_same_as_package(ours: r50.RawDetections, theirs: dict) -> None:
    assert len(ours) == len(theirs) > 0
    faces = list(theirs.values())  # in the package's order: score, descending
    for i, face in enumerate(faces):
        x1, y1, x2, y2 = face["facial_area"]  # the package truncates its boxes to int
        bx, by, bw, bh = ours.boxes[i]
        assert (int(bx), int(by), int(bx + bw), int(by + bh)) == (x1, y1, x2, y2)
        assert ours.scores[i] == pytest.approx(float(face["score"]), abs=1e-6)
        expected = np.array([face["landmarks"][k] for k in
                             ("right_eye", "left_eye", "nose", "mouth_right", "mouth_left")]).reshape(-1)
        np.testing.assert_allclose(ours.landmarks[i], expected, atol=1e-3)


def test_decode_matches_the_package_on_network_outputs(staged, random_network, package_detect):
    """(b) On the random network's outputs, floor lowered until detections exist: same faces as the package."""
    _, frames, _ = random_network
    image = frames["clip_640x360"]
    outputs = onnx_outputs(staged, image)
    scores = np.concatenate([o[0, :, :, 2:].reshape(-1) for o in outputs if o.shape[3] == 4])
    floor = float(np.sort(scores)[-60])  # the 60 best anchors pass, NMS keeps some
    ours = r50.decode(outputs, image.shape[0], image.shape[1], floor)
    theirs = package_detect(image[:, :, ::-1].astype(np.uint8), outputs, floor)
    assert_same_as_package(ours, theirs)


def hand_made_outputs(height: int, width: int) -> list[np.ndarray]:
    """Outputs with two faces at known anchors: stride 8, row 5, column 7, second anchor (a 16 px anchor at
    56..71, 40..55), and stride 32, row 1, column 2, first anchor, shifted and grown; everything else zero."""
    outputs = []
    for stride in (32, 16, 8):
        rows, cols = -(-height // stride), -(-width // stride)
        cls = np.zeros((1, rows, cols, 4), np.float32)
        cls[..., :2] = 1.0  # background
        box = np.zeros((1, rows, cols, 8), np.float32)
        lmk = np.zeros((1, rows, cols, 20), np.float32)
        outputs += [cls, box, lmk]
    cls8, box8, lmk8 = outputs[6:9]
    cls8[0, 5, 7, 3] = 0.9
    lmk8[0, 5, 7, 10:20] = np.tile([0.25, -0.25], 5)
    cls32, box32, _ = outputs[0:3]
    cls32[0, 1, 2, 2] = 0.8
    box32[0, 1, 2, 0:4] = [0.1, -0.05, np.log(0.5), 0.0]
    return outputs


def test_decode_of_hand_made_outputs(package_detect):
    """(b) Known anchors: the decoded boxes are where the anchors put them, and the package agrees."""
    h, w = 240, 320
    outputs = hand_made_outputs(h, w)
    ours = r50.decode(outputs, h, w, 0.5)
    assert len(ours) == 2
    # stride 8 face: anchor [0,0,15,15] moved to column 7, row 5 -> x 56..71, y 40..55 (zero deltas)
    np.testing.assert_allclose(ours.boxes[0], [56, 40, 15, 15])
    assert ours.scores[0] == pytest.approx(0.9)
    np.testing.assert_allclose(ours.landmarks[0].reshape(5, 2), [[63.5 + 4, 47.5 - 4]] * 5)
    # stride 32 face: anchor [-248,-248,263,263] + (64, 32), width 512 -> centre (71.5 + 51.2, 39.5 - 25.6), width 256
    cx, cy = 71.5 + 51.2, 39.5 - 25.6
    x1, y1, x2, y2 = cx - 127.5, cy - 255.5, cx + 127.5, cy + 255.5
    np.testing.assert_allclose(ours.boxes[1], [max(x1, 0), max(y1, 0), x2 - max(x1, 0), min(y2, h - 1) - max(y1, 0)])
    theirs = package_detect(np.zeros((h, w, 3), np.uint8), outputs, 0.5)
    assert_same_as_package(ours, theirs)


def test_outputs_in_another_order_decode_the_same():
    outputs = hand_made_outputs(240, 320)
    shuffled = [outputs[i] for i in (8, 0, 4, 2, 6, 1, 3, 7, 5)]
    a, b = r50.decode(outputs, 240, 320, 0.5), r50.decode(shuffled, 240, 320, 0.5)
    np.testing.assert_array_equal(a.boxes, b.boxes)
    with pytest.raises(ValueError, match="expected 9"):
        r50.decode(outputs[:6], 240, 320, 0.5)


def test_wrong_or_truncated_weights_are_refused(tmp_path, random_network, test_pin, monkeypatch):
    """(c) A mirror file off the pin is refused with its name and both hashes; nothing is left staged."""
    monkeypatch.setitem(sources.SOURCES, "retinaface_resnet50", test_pin)
    data = random_network[0].read_bytes()
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "retinaface.h5").write_bytes(data[: len(data) // 2])
    dest = tmp_path / "models" / "retinaface.h5"
    with pytest.raises(ModelError, match="truncated") as err:
        staging.stage_model("retinaface_resnet50", dest, str(mirror))
    assert str(mirror / "retinaface.h5") in str(err.value) and test_pin.sha256 in str(err.value)
    assert not dest.exists()
    # the real pin refuses the random weights, whole
    monkeypatch.undo()
    (mirror / "retinaface.h5").write_bytes(data)
    with pytest.raises(ModelError, match=sources.SOURCES["retinaface_resnet50"].sha256):
        staging.stage_model("retinaface_resnet50", dest, str(mirror))


def test_detector_runs_on_the_staged_model(staged, face_clip):
    """Through the factory, as the detection stage builds it: sidecar checked, table columns as MobileNetV2's,
    no box without area."""
    from btb.detect.factory import make_detector

    options = {"backbone": "resnet50", "score_floor": 0.5, "downscaled_long_side": 480}
    detector = make_detector("retinaface", str(staged / "retinaface_resnet50.onnx"), options, threads=2, device="cpu")
    assert isinstance(detector, r50.RetinaFaceResNet50Detector)
    found = detector.detect(first_frame(face_clip))
    assert len(found) > 0 and found.boxes.shape[1] == 4 and found.landmarks.shape[1] == 10
    assert (found.scores >= 0.5).all() and (found.boxes[:, 2:] > 0).all()


def test_frames_over_1980_pixels_are_shrunk_like_the_package_does(staged, monkeypatch):
    """A 4K frame reaches the network at 1980 px on its long side (and once more at the downscaled size)."""
    detector = r50.RetinaFaceResNet50Detector(staged / "retinaface_resnet50.onnx", score_floor=0.99,
                                              downscaled_long_side=480)
    seen: list[tuple[int, ...]] = []

    def record(image: np.ndarray) -> r50.RawDetections:
        seen.append(image.shape[:2])
        return r50.RawDetections.empty()

    monkeypatch.setattr(detector, "_detect_once", record)
    detector.detect(np.zeros((2160, 3840, 3), np.uint8))
    assert seen == [(1114, 1980), (270, 480)]
    seen.clear()
    detector.detect(np.zeros((1080, 1920, 3), np.uint8))
    assert seen == [(1080, 1920), (270, 480)]


def test_conversion_process_finds_btb_without_the_workflow():
    """The conversion runs in a child process, which does not inherit a job's script folder: its PYTHONPATH
    names the folder holding this btb. Checked with site-packages switched off (-S), so that the development
    install cannot stand in for it; without that PYTHONPATH the same import fails."""
    from btb.models.resnet50 import child_pythonpath

    code = "import btb.errors, sys; print(btb.errors.__file__)"
    ok = subprocess.run([sys.executable, "-S", "-c", code], env={"PYTHONPATH": child_pythonpath()},
                        capture_output=True, text=True, cwd="/")
    assert ok.returncode == 0, ok.stderr
    assert Path(ok.stdout.strip()).resolve() == Path(r50.__file__).resolve().parents[1] / "errors.py"
    bare = subprocess.run([sys.executable, "-S", "-c", code], env={}, capture_output=True, text=True, cwd="/")
    assert bare.returncode != 0 and "No module named 'btb'" in bare.stderr


def test_a_wrong_download_falls_back_to_the_backup_url(tmp_path, random_network, test_pin, monkeypatch):
    """The first source serves a truncated file: the backup is tried, and its whole file is staged."""
    data = random_network[0].read_bytes()
    served = {"https://first.example/retinaface.h5": data[:1000], "https://backup.example/retinaface.h5": data}
    pin = dataclasses.replace(test_pin, url="https://first.example/retinaface.h5",
                              backup_url="https://backup.example/retinaface.h5")
    monkeypatch.setitem(sources.SOURCES, "retinaface_resnet50", pin)
    fetched = []

    def fake_download(url: str, dest: Path) -> None:  # no network here: the two servers are simulated
        fetched.append(url)
        Path(dest).write_bytes(served[url])

    monkeypatch.setattr(staging, "_download", fake_download)
    dest = staging.stage_model("retinaface_resnet50", tmp_path / "retinaface.h5", None)
    assert fetched == list(served) and sha256_file(dest) == test_pin.sha256


def test_edited_onnx_is_refused(staged, tmp_path):
    from btb.detect.factory import make_detector

    copy = tmp_path / "retinaface_resnet50.onnx"
    copy.write_bytes(staged.joinpath("retinaface_resnet50.onnx").read_bytes() + b"\0")
    (tmp_path / "retinaface_resnet50.onnx.sha256").write_text(
        staged.joinpath("retinaface_resnet50.onnx.sha256").read_text())
    with pytest.raises(ModelError):
        make_detector("retinaface", str(copy), {"backbone": "resnet50", "score_floor": 0.5,
                                                "downscaled_long_side": 0}, threads=1, device="cpu")


def test_candidates_are_capped_best_first(monkeypatch):
    """A network that scores every anchor above the floor: only the best MAX_CANDIDATES reach suppression."""
    outputs = hand_made_outputs(240, 320)
    cls8 = outputs[6]
    cls8[..., 2:] = np.linspace(0.1, 0.5, cls8[..., 2:].size, dtype=np.float32).reshape(cls8[..., 2:].shape)
    cls8[0, 5, 7, 3] = 0.9
    monkeypatch.setattr(r50, "MAX_CANDIDATES", 3)
    found = r50.decode(outputs, 240, 320, 0.05)
    assert len(found) <= 3 and found.scores[0] == pytest.approx(0.9) and 0.8 in np.round(found.scores, 6)


def test_one_key_plans_the_resnet50_staging(tmp_path):
    """``detect.retinaface.backbone: resnet50`` alone: the ResNet-50 staging job replaces the MobileNetV2 one."""
    from conftest import default_config, dry_run_jobs

    cfg = default_config()
    cfg["models"] = {"dir": str(tmp_path / "models"), "mirror": ""}
    cfg["detect"]["retinaface"]["backbone"] = "resnet50"
    jobs = dry_run_jobs(tmp_path, cfg, ["stage_models"])
    assert jobs == {"stage_yunet": 1, "stage_retinaface_resnet50": 1, "stage_pose": 1, "stage_models": 1}


@pytest.mark.e2e
def test_workflow_runs_with_resnet50(tmp_path, staged, models_dir, face_clip):
    """The whole workflow with the ResNet-50 backbone (its staged random-weight model): detection tables with
    the usual columns, merged, verified, the staging record (weights and conversion) in a manifest that
    verifies. The random network finds "faces" everywhere, so only the plumbing is checked, not accuracy."""
    from conftest import copy_clip, run_snakemake, workflow_config

    from btb.audit.verify import verify_manifest

    models = tmp_path / "models"
    models.mkdir()
    for f in [*models_dir.glob("*yunet*"), *models_dir.glob("*pose*"), *staged.iterdir()]:
        os.link(f, models / f.name)
    clip = copy_clip(face_clip, tmp_path / "clip.mp4")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nr50\t{clip}\n")
    cfg = workflow_config(models, sheet)
    cfg["detect"]["retinaface"]["backbone"] = "resnet50"
    # the random network scores most anchors near 1: a floor that lets about 30 anchors of a frame through
    detector = r50.RetinaFaceResNet50Detector(staged / "retinaface_resnet50.onnx", score_floor=1.0,
                                              downscaled_long_side=0)
    outputs = detector.run_network(first_frame(face_clip))
    scores = np.sort(np.concatenate([o[0, :, :, 2:].reshape(-1) for o in outputs if o.shape[3] == 4]))
    cfg["detect"]["retinaface"]["score_floor"] = float(scores[-30])
    run_snakemake(tmp_path, cfg)
    res = tmp_path / "results" / "r50"
    import pandas as pd

    table = pd.read_parquet(res / "detections" / "retinaface_all.parquet")
    yunet = pd.read_parquet(res / "detections" / "yunet.parquet")
    assert list(table.columns) == list(yunet.columns) and (table["detector"] == "retinaface").all()
    assert len(table) > 0 and table["score"].min() >= cfg["detect"]["retinaface"]["score_floor"]
    assert (table["w"] > 0).all() and (table["h"] > 0).all()
    manifest = json.loads((res / "manifest.json").read_text())
    assert [m["stage"] for m in manifest["models"]] == ["stage_yunet", "stage_retinaface_resnet50", "stage_pose"]
    record = manifest["models"][1]
    assert record["model_id"] == "retinaface_resnet50" and "conversion" in record["notes"]
    assert {Path(f["path"]).name for f in record["files"]} >= {"retinaface.h5", "retinaface_resnet50.onnx"}
    assert manifest["config"]["detect"]["retinaface"]["backbone"] == "resnet50"
    assert verify_manifest(res / "manifest.json")[0] == []
