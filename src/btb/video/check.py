"""Check a finished output with ffprobe: size, frame count, frame times, streams, and no metadata left."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from btb.video.ffmpeg import ffprobe_json

# Tags that describe the container structure, not the recording: allowed to remain.
STRUCTURAL_FORMAT_TAGS = {"major_brand", "minor_version", "compatible_brands"}
# Stream tags the MP4 muxer always writes that carry nothing about the recording (no versions, no names):
# the default handler names, an empty vendor, and the version-free compressor name of bitexact mode.
NEUTRAL_STREAM_TAGS = {
    ("language", "und"),
    ("handler_name", ""),
    ("handler_name", "VideoHandler"),
    ("handler_name", "SoundHandler"),
    ("vendor_id", "[0][0][0][0]"),
    ("encoder", "Lavc libx264"),
}


def check_output(output: str | Path, frame_table: pd.DataFrame, width: int, height: int,
                 expect_audio: bool) -> dict[str, Any]:
    """A report ``{'passed': bool, 'problems': [...], ...}`` comparing the output with the frame table."""
    data = ffprobe_json(output, "-show_format", "-show_streams")
    streams = data.get("streams", [])
    problems: list[str] = []
    video = [s for s in streams if s.get("codec_type") == "video"]
    audio = [s for s in streams if s.get("codec_type") == "audio"]
    other = [s for s in streams if s.get("codec_type") not in ("video", "audio")]
    if len(video) != 1:
        problems.append(f"expected 1 video stream, found {len(video)}")
    if expect_audio and len(audio) != 1:
        problems.append(f"audio policy keep: expected 1 audio stream, found {len(audio)}")
    if not expect_audio and audio:
        problems.append(f"audio policy drop: found {len(audio)} audio stream(s)")
    if other:
        problems.append(f"unexpected streams: {[s.get('codec_type') for s in other]}")
    v = video[0] if video else {}
    if (v.get("width"), v.get("height")) != (width, height):
        problems.append(f"size {v.get('width')}x{v.get('height')} differs from input {width}x{height}")
    for sd in v.get("side_data_list", []) or []:
        if "rotation" in sd and int(float(sd["rotation"])) % 360:
            problems.append("output carries a rotation display matrix")
    leaked_format = {k: val for k, val in (data.get("format", {}).get("tags") or {}).items()
                     if k not in STRUCTURAL_FORMAT_TAGS}
    leaked_streams = [{k: val for k, val in (s.get("tags") or {}).items() if (k, val) not in NEUTRAL_STREAM_TAGS}
                      for s in streams]
    if leaked_format:
        problems.append(f"container tags remain: {sorted(leaked_format)}")
    if any(leaked_streams):
        problems.append(f"stream tags remain: {[sorted(t) for t in leaked_streams if t]}")

    pk = ffprobe_json(output, "-select_streams", "v:0", "-show_entries", "packet=pts_time")
    out_times = sorted(float(p["pts_time"]) for p in pk.get("packets", []) if p.get("pts_time") not in (None, "N/A"))
    in_times = frame_table["pts_time"].to_list()
    max_dev = None
    if len(out_times) != len(in_times):
        problems.append(f"frame count {len(out_times)} differs from input {len(in_times)}")
    elif in_times:
        rel_in = [t - in_times[0] for t in in_times]
        rel_out = [t - out_times[0] for t in out_times]
        max_dev = max(abs(a - b) for a, b in zip(rel_in, rel_out, strict=True))
        if max_dev > 0.002:
            problems.append(f"frame times deviate from the input's by up to {max_dev * 1000:.1f} ms")
    return {
        "passed": not problems,
        "problems": problems,
        "width": v.get("width"),
        "height": v.get("height"),
        "codec": v.get("codec_name"),
        "pix_fmt": v.get("pix_fmt"),
        "frames": len(out_times),
        "input_frames": len(in_times),
        "max_frame_time_deviation_s": max_dev,
        "audio_streams": len(audio),
        "format_tags_remaining": sorted((data.get("format", {}).get("tags") or {}).keys()),
        "stream_tags_remaining": [sorted((s.get("tags") or {}).items()) for s in streams],
    }
