"""The onerror handler: a failed video's face-bearing intermediates are removed unless keep_intermediates is
set; its failure record quotes the error its rule logged."""

from __future__ import annotations

import json

import pytest

from btb.audit.failures import record_failures
from btb.samples import Sample


@pytest.mark.parametrize("keep", [False, True])
def test_failed_video_intermediates_removed_unless_kept(tmp_path, keep):
    results = tmp_path / "results"
    work = results / "v1" / "work"
    work.mkdir(parents=True)
    (work / "blurred.1of2.nut").write_bytes(b"blurred frames")
    (work / ".blurred.2of2.nut.part").write_bytes(b"partly written blurred frames")
    log = results / "logs" / "encode_video" / "v1.log"
    log.parent.mkdir(parents=True)
    log.write_text("2026-01-01 00:00:00,000 ERROR btb: no space left on device while writing results/v1/v1.deid.mp4\n")
    video = tmp_path / "in.mp4"
    video.write_bytes(b"input")
    failures = record_failures({"v1": Sample("v1", str(video))}, results, keep_intermediates=keep)
    assert [f["video_id"] for f in failures] == ["v1"]
    assert work.exists() is keep
    record = json.loads((results / "v1" / "failure.json").read_text())
    assert record["failed_rule"] == "encode_video"
    assert record["error"] == "no space left on device while writing results/v1/v1.deid.mp4"


def test_a_videos_logs_are_its_own(tmp_path):
    """Ids that begin alike (child, child_2: the input-folder mode makes such ids) do not share logs, so a
    failure record never quotes another video's error."""
    from btb.audit.failures import video_logs

    names = ["probe_video/child.log", "detect_yunet/child.1of1.log", "detect_retinaface/child_all.1of1.log",
             "gather_detections/child.retinaface_all.log", "blur_image/child.jpg.log",
             "detect_yunet/child_2.1of1.log", "probe_video/child_2.log"]
    for n in names:
        (tmp_path / "logs" / n).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "logs" / n).write_text("")
    own = {str(p.relative_to(tmp_path / "logs")) for p in video_logs(tmp_path, "child")}
    assert own == set(names[:5])
    assert {str(p.relative_to(tmp_path / "logs")) for p in video_logs(tmp_path, "child_2")} == set(names[5:])


def test_no_record_for_videos_no_job_touched(tmp_path):
    """A run of another target (btb evaluate) that fails leaves the sample list's videos alone."""
    from btb.audit.failures import record_failures
    from btb.samples import Sample

    assert record_failures({"demo": Sample("demo", "resources/demo/demo.mp4")}, tmp_path / "results") == []
    assert not (tmp_path / "results").exists()


def test_a_full_disk_does_not_silence_the_failure_message(tmp_path, monkeypatch, capsys):
    """When the disk is full, the failure record and the run summary may not be writable: the handler still
    names the failed video and its error on the terminal, and says what it could not write."""
    import btb.audit.failures as failures

    def no_space(*args, **kwargs):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(failures, "write_run_summary", no_space)
    monkeypatch.setattr(failures, "write_json", no_space)
    results = tmp_path / "results"
    log = results / "logs" / "blur_frames" / "v1.1of2.log"
    log.parent.mkdir(parents=True)
    log.write_text("2026-01-01 00:00:00,000 ERROR btb: no space left on device while writing results/v1/work/\n")
    video = tmp_path / "in.mp4"
    video.write_bytes(b"input")
    assert [f["video_id"] for f in record_failures({"v1": Sample("v1", str(video))}, results)] == ["v1"]
    err = capsys.readouterr().err
    assert "v1's failure record could not be written (No space left on device)" in err
    assert "the run summary could not be written (No space left on device)" in err
    assert "btb: v1 FAILED in blur_frames: no space left on device while writing results/v1/work/" in err
