"""What a video is: streams, size after rotation, frame timestamps, container tags."""

from __future__ import annotations

import subprocess
from dataclasses import asdict, dataclass, field
from pathlib import Path

from btb.errors import BTBError, InputError
from btb.video.ffmpeg import ffprobe_json
from btb.video.tags import safe_names


@dataclass(frozen=True)
class VideoInfo:
    path: str
    container: str
    codec: str
    width: int  # as displayed, after rotation
    height: int
    rotation: int  # degrees from the display matrix, 0/90/180/270
    pix_fmt: str
    duration_s: float | None
    n_audio_streams: int
    n_other_streams: int
    # Names only, never values (the values are what de-identification removes: GPS, dates, device, titles); a
    # name that is not a known field's is recorded hashed (btb.video.tags).
    format_tag_names: list[str] = field(default_factory=list)
    stream_tag_names: list[list[str]] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)


def _rotation(stream: dict) -> int:
    for sd in stream.get("side_data_list", []) or []:
        if "rotation" in sd:
            return int(round(float(sd["rotation"]))) % 360
    rot = (stream.get("tags") or {}).get("rotate")
    return int(rot) % 360 if rot else 0


def probe_video(path: str | Path) -> VideoInfo:
    """Probe ``path``; InputError naming the file if it has no decodable video stream."""
    data = ffprobe_json(path, "-show_format", "-show_streams")
    fmt_name = str(data.get("format", {}).get("format_name", ""))
    if fmt_name.endswith("_pipe") or fmt_name in ("image2", "gif"):
        raise InputError(path, f"is a still image ({fmt_name}), not a video; give it an image suffix "
                               "(.png, .jpg) to de-identify it as a photo")
    streams = data.get("streams", [])
    video = [s for s in streams if s.get("codec_type") == "video" and not _is_cover_art(s)]
    if not video:
        raise InputError(path, "contains no video stream")
    v = video[0]
    w, h = int(v.get("width") or 0), int(v.get("height") or 0)
    if w <= 0 or h <= 0:
        raise InputError(path, "video stream has no frame size (damaged or unsupported)")
    rot = _rotation(v)
    if rot in (90, 270):
        w, h = h, w
    fmt = data.get("format", {})
    dur = fmt.get("duration")
    return VideoInfo(
        path=str(path),
        container=str(fmt.get("format_name", "")),
        codec=str(v.get("codec_name", "")),
        width=w,
        height=h,
        rotation=rot,
        pix_fmt=str(v.get("pix_fmt", "")),
        duration_s=float(dur) if dur not in (None, "N/A") else None,
        n_audio_streams=sum(1 for s in streams if s.get("codec_type") == "audio"),
        n_other_streams=sum(1 for s in streams if s.get("codec_type") not in ("audio", "video")),
        format_tag_names=safe_names((fmt.get("tags") or {}).keys()),
        stream_tag_names=[safe_names((s.get("tags") or {}).keys()) for s in streams],
    )


def _is_cover_art(stream: dict) -> bool:
    return bool((stream.get("disposition") or {}).get("attached_pic"))


def frame_times(path: str | Path) -> list[float]:
    """Presentation times (s) of every video frame, in presentation order, from the packets (no decode)."""
    data = ffprobe_json(path, "-select_streams", "v:0", "-show_entries", "packet=pts_time,flags")
    times = [float(p["pts_time"]) for p in data.get("packets", []) if p.get("pts_time") not in (None, "N/A")]
    return sorted(times)


def largest_frame_pixels(paths: list[str]) -> int | None:
    """The largest frame (width x height) among ``paths``, videos or photos, from their headers; None when one
    cannot be read (missing, not yet written, damaged, or no answer within 10 s, as on a stalled network
    mount): its own job reports that."""
    largest = 0
    for path in paths:
        try:
            streams = ffprobe_json(path, "-show_streams", timeout=10).get("streams", [])
            sizes = [int(s.get("width") or 0) * int(s.get("height") or 0) for s in streams
                     if s.get("codec_type") == "video" and not _is_cover_art(s)]
        except (BTBError, OSError, ValueError, subprocess.TimeoutExpired):
            return None
        if not sizes or max(sizes) <= 0:
            return None
        largest = max(largest, max(sizes))
    return largest
