"""Probing and frame indexing (environment ``envs/video.yaml``)."""

from __future__ import annotations

from typing import Any

from btb.audit.hashing import shown_path
from btb.audit.io import write_json, write_tsv
from btb.audit.records import stage_record
from btb.samples import is_image
from btb.video.probe import probe_video

# OpenCV, PyAV and pandas are imported by the functions that use them: the probe job, one per video, runs
# ffprobe only: 0.18 s a job instead of 0.68 (docs/performance.md, "Fixed cost per video").


def probe(*, video: str, out: str, video_id: str) -> dict[str, Any]:
    """What the input is (``probe.json``); a file that is not a usable video or image fails here, named."""
    if is_image(video):
        from btb.video.image import probe_image

        info = probe_image(video)
    else:
        info = {"media": "video", **probe_video(video).to_dict()}
    write_json(out, {"video_id": video_id, **info, "path": shown_path(video)})
    return info


def index_video_frames(*, video: str, frame_table: str, audit: str, video_id: str) -> None:
    """The frame table: one decoding pass (frames are not stored; later stages decode the source again)."""
    from btb.video.frames import image_frame_table, index_frames

    with stage_record("index_frames", video_id, {}, audit) as rec:
        rec.add_inputs(video)
        table = image_frame_table() if is_image(video) else index_frames(video)
        write_tsv(frame_table, table)
        rec.add_outputs(frame_table)
        rec.counts = {"frames": len(table)}
