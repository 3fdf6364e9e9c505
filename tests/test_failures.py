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
