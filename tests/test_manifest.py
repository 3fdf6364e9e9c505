import json

import pytest

from btb.audit.records import stage_record
from btb.audit.summary import build_summary
from btb.audit.verify import verify_manifest


def test_manifest_lists_every_file_with_role(run_dir):
    m = json.loads((run_dir / "results" / "v1" / "manifest.json").read_text())
    roles = {(f["path"], f["role"]) for f in m["files"]}
    assert roles == {("in.mp4", "input"), ("model.onnx", "model"), ("store/chunk_00000.nut", "intermediate"),
                     ("out.mp4", "output"), ("regions.parquet", "output")}
    assert m["counts"] == {"index_frames.frames": 3}
    assert m["stages"]["index_frames"]["params"] == {"probe": "x"}
    assert m["started_utc"] <= m["ended_utc"]
    assert {"user", "host", "packages", "ffmpeg"} <= set(m["environment"])
    assert len(m["config_sha256"]) == 64


def test_verify_passes_then_catches_each_kind_of_change(run_dir):
    # the deleted intermediate is not checked
    assert verify_manifest(run_dir / "results" / "v1" / "manifest.json") == ([], 4)
    for name, role in (("in.mp4", "input"), ("model.onnx", "model"), ("out.mp4", "output")):
        path = run_dir / name
        original = path.read_bytes()
        path.write_bytes(bytes([original[0] ^ 1]) + original[1:])  # same size, one bit flipped
        problems, _ = verify_manifest(run_dir / "results" / "v1" / "manifest.json")
        assert [(p.path, p.role) for p in problems] == [(name, role)]
        assert "sha256" in problems[0].problem
        path.write_bytes(original)
    (run_dir / "regions.parquet").unlink()
    problems, _ = verify_manifest(run_dir / "results" / "v1" / "manifest.json")
    assert [(p.path, p.problem) for p in problems] == [("regions.parquet", "missing")]


def test_verify_with_moved_delivery(run_dir, tmp_path_factory):
    moved = tmp_path_factory.mktemp("moved")
    for name in ("in.mp4", "model.onnx", "out.mp4", "regions.parquet"):
        (moved / name).write_bytes((run_dir / name).read_bytes())
    assert verify_manifest(run_dir / "results" / "v1" / "manifest.json", base=moved)[0] == []


def test_failed_stage_writes_no_record(tmp_path):
    with pytest.raises(RuntimeError), stage_record("x", "v", {}, tmp_path / "rec.json"):
        raise RuntimeError("boom")
    assert not (tmp_path / "rec.json").exists()


def test_summary(run_dir):
    s = build_summary([str(run_dir / "results" / "v1" / "manifest.json")])
    assert s["n_videos"] == 1 and s["videos"][0]["status"] == "done"
    assert s["videos"][0]["output"] == "out.mp4" and len(s["videos"][0]["manifest_sha256"]) == 64


def test_verify_catches_an_edited_manifest_and_log(run_dir):
    manifest = run_dir / "results" / "v1" / "manifest.json"
    log = run_dir / "results" / "audit_log.jsonl"
    original = manifest.read_text()
    manifest.write_text(original.replace('"mode": "union"', '"mode": "cascade"'))
    problems, _ = verify_manifest(manifest)
    assert [p.role for p in problems] == ["manifest"]
    manifest.write_text(original)
    assert verify_manifest(manifest)[0] == []
    entries = log.read_text()
    log.write_text("")  # the run log emptied
    assert {p.role for p in verify_manifest(manifest)[0]} == {"audit log", "manifest"}
    log.write_text(entries)
    assert verify_manifest(manifest)[0] == []
