"""Final encode: the blurred frames into H.264 with the input's size and frame times, audio by policy, and
no container metadata (global, stream, chapters, encoder strings).

Two ways in: a lossless file of blurred frames (``encode_video``; chunked runs join their blurred chunks into
one), or frames streamed from Python straight into the encoder (``encode_frames``; one job blurs and encodes,
and no blurred frame is ever written to disk). Both give the encoder the same pixels, times and frame rate,
so both give the same bytes.
"""

from __future__ import annotations

import subprocess
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np

from btb.audit.io import atomic_output
from btb.errors import ToolError
from btb.video.ffmpeg import ffmpeg_command, raise_for_ffmpeg, run_ffmpeg

AUDIO_POLICIES = ("drop", "keep")


@dataclass(frozen=True)
class EncodeParams:
    """The ``encode`` section of the configuration (defaults in its schema), plus the job's threads."""

    crf: int
    preset: str
    audio: str
    audio_bitrate: str
    threads: int = 0  # 0 = ffmpeg decides

    def __post_init__(self) -> None:
        if self.audio not in AUDIO_POLICIES:
            raise ValueError(f"audio policy must be one of {AUDIO_POLICIES}, got {self.audio!r}")


def pixel_format(width: int, height: int) -> str:
    """yuv420p where the size allows it (widest player support), yuv444p for odd sizes (no resize, no crop)."""
    return "yuv420p" if width % 2 == 0 and height % 2 == 0 else "yuv444p"


def encode_args(blurred: Path | None, source: Path, out: Path, params: EncodeParams, width: int, height: int,
                keep_audio: bool) -> list[str]:
    """ffmpeg arguments; ``blurred`` None reads the frames as NUT from standard input."""
    args = ["-f", "nut", "-i", "pipe:0"] if blurred is None else ["-i", str(blurred)]
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
    with atomic_output(out) as tmp:
        run_ffmpeg(encode_args(Path(blurred), Path(source), tmp, params, width, height,
                               params.audio == "keep"), about=source, writing=out)
        if accept is not None:
            accept(tmp)


def encode_frames(frames: Iterable[tuple[np.ndarray, int]], time_base: Fraction, rate: Fraction,
                  source: str | Path, out: str | Path, params: EncodeParams, width: int, height: int,
                  accept: Callable[[Path], None] | None = None) -> int:
    """Encode BGR frames with their presentation times (in ``time_base``), streamed through a pipe into
    ffmpeg as raw video in NUT with the nominal ``rate``, atomically as ``encode_video`` does. Returns the
    number of frames sent. An error in ``frames`` (or a failing ffmpeg) leaves no output and no partial file."""
    sent = 0
    try:
        with atomic_output(out) as tmp:
            args = encode_args(None, Path(source), tmp, params, width, height, params.audio == "keep")
            cmd = ffmpeg_command(args)
            with tempfile.TemporaryFile() as errfile:
                proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stderr=errfile)
                assert proc.stdin is not None
                broken: Exception | None = None  # ffmpeg stopped reading (it failed, e.g. on a full disk)
                try:
                    try:
                        bgra = np.full((height, width, 4), 255, dtype=np.uint8)
                        with av.open(proc.stdin, mode="w", format="nut") as container:
                            stream = container.add_stream("rawvideo", rate=rate)
                            # bgra, as the lossless files' bgr0: the encoder's colour conversion is the same
                            stream.width, stream.height, stream.pix_fmt = width, height, "bgra"
                            stream.time_base = time_base
                            stream.codec_context.time_base = time_base
                            for image, pts in frames:
                                bgra[:, :, :3] = image
                                frame = av.VideoFrame.from_ndarray(bgra, format="bgra")
                                frame.pts = pts
                                container.mux(stream.encode(frame))
                                sent += 1
                            container.mux(stream.encode(None))
                    except (av.error.FFmpegError, OSError) as exc:
                        broken = exc
                    try:
                        proc.stdin.close()
                    except OSError as exc:
                        broken = broken or exc
                    rc = proc.wait()
                except BaseException:  # the frames failed (the source does not decode as indexed): stop ffmpeg
                    if proc.poll() is None:
                        proc.kill()
                        proc.wait()
                    raise
                errfile.seek(0)
                # ffmpeg's own message says why it stopped; a broken pipe it did not explain is reported so
                raise_for_ffmpeg(errfile.read().decode(errors="replace"), rc, about=source, writing=out)
                if broken is not None:
                    raise ToolError(f"ffmpeg stopped reading the frames of {source} while encoding {out}: "
                                    f"{broken}")
            if accept is not None:
                accept(tmp)
    finally:
        close = getattr(frames, "close", None)
        if close is not None:  # a generator of decoded frames: end its decoder now, not at garbage collection
            close()
    return sent
