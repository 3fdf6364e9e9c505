"""Final encode: the blurred frames into H.264 with the input's size and frame times, audio by policy, and
no container metadata (global, stream, chapters, encoder strings)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from btb.video.ffmpeg import run_ffmpeg

AUDIO_POLICIES = ("drop", "keep")


@dataclass(frozen=True)
class EncodeParams:
    crf: int = 18
    preset: str = "medium"
    audio: str = "drop"
    audio_bitrate: str = "192k"
    threads: int = 0  # 0 = ffmpeg decides

    def __post_init__(self) -> None:
        if self.audio not in AUDIO_POLICIES:
            raise ValueError(f"audio policy must be one of {AUDIO_POLICIES}, got {self.audio!r}")


def pixel_format(width: int, height: int) -> str:
    """yuv420p where the size allows it (widest player support), yuv444p for odd sizes (no resize, no crop)."""
    return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"


def encode_args(blurred: Path, source: Path, out: Path, params: EncodeParams, width: int, height: int,
                keep_audio: bool) -> list[str]:
    args = ["-i", str(blurred)]
    if keep_audio:
        args += ["-i", str(source)]
    # explicit maps: the blurred video stream, and with audio=keep the source's first audio stream; nothing
    # else (subtitles, data tracks, attachments, cover art) can reach the output
    args += ["-map", "0:v:0"]
    if keep_audio:
        args += ["-map", "1:a:0?", "-c:a", "aac", "-b:a", params.audio_bitrate, "-flags:a", "+bitexact",
                 "-map_metadata:s:a", "-1"]
    else:
        args += ["-an"]
    args += [
        "-sn", "-dn",
        "-c:v", "libx264", "-crf", str(params.crf), "-preset", params.preset,
        "-pix_fmt", pixel_format(width, height),
        "-threads", str(params.threads),
        "-fps_mode", "passthrough", "-enc_time_base", "-1",
        # x264 writes its version and options into an SEI message; drop SEI units (optional in H.264)
        "-bsf:v", "filter_units=remove_types=6",
        "-map_metadata", "-1", "-map_metadata:s:v", "-1", "-map_chapters", "-1",
        "-metadata:s:v:0", "handler_name=", "-metadata:s:v:0", "language=und",
        "-fflags", "+bitexact", "-flags:v", "+bitexact",
        "-movflags", "+faststart",
        "-f", "mp4", str(out),
    ]
    return args


def encode_video(blurred: str | Path, source: str | Path, out: str | Path, params: EncodeParams,
                 width: int, height: int, accept: Callable[[Path], None] | None = None) -> None:
    """Encode atomically: written under a temporary name, passed to ``accept`` (which raises to refuse it),
    and renamed to ``out`` only when ffmpeg succeeded and the file was accepted."""
    out = Path(out)
    tmp = out.with_name(f".{out.name}.part")
    try:
        run_ffmpeg(encode_args(Path(blurred), Path(source), tmp, params, width, height,
                               params.audio == "keep"), about=source, writing=out)
        if accept is not None:
            accept(tmp)
        os.replace(tmp, out)
    finally:
        tmp.unlink(missing_ok=True)
