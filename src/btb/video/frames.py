"""Normalised frames: one ffmpeg decode recipe shared by indexing, detection, blurring and verification.

Normalised means: the first video stream only, display rotation applied to the pixels, BGR pixels, and every
frame's original presentation time kept (``-fps_mode passthrough``, the demuxer's time base), so variable
frame rate survives. Frames are streamed from ffmpeg through a pipe and never written to disk: the frame
table (index and time of every frame) is built by one decoding pass, and each later stage decodes the source
again and checks that it sees exactly the same frame times (decoding is repeatable, or the stage refuses).
A video can be processed in contiguous chunks of frames (``chunk_ranges``), each decoded by its own job.
"""

from __future__ import annotations

import os
import signal
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd

from btb.audit.io import atomic_output, temporary_name
from btb.errors import InputError, ToolError
from btb.samples import is_image
from btb.video.ffmpeg import require
from btb.video.image import read_image

FRAME_TABLE_COLUMNS = ["frame_index", "pts", "time_base", "pts_time"]
INDEX_SIZE = "16x16"  # the indexing pass needs frame times only: tiny frames keep the pipe cheap


def normalise_args(src: str | Path) -> list[str]:
    """ffmpeg input + stream options that every stage uses to read a source's frames."""
    return [
        "-i", str(src),
        # the first video stream that is not cover art (0:V), nothing else: no audio, subtitles, data, attachments
        "-map", "0:V:0", "-an", "-sn", "-dn",
        "-map_metadata", "-1",
        "-fps_mode", "passthrough",
        "-enc_time_base", "-1",
    ]


@dataclass(frozen=True)
class Frame:
    index: int
    pts: int
    time_base: Fraction
    image: np.ndarray  # H x W x 3, uint8, BGR

    @property
    def time(self) -> float:
        return float(self.pts * self.time_base)


def iter_normalised(src: str | Path, *, size: str | None = None, strict: bool = False, start: int = 0,
                    count: int | None = None) -> Iterator[Frame]:
    """Decode ``src`` with the normalising recipe, streaming raw frames through a pipe (nothing on disk).

    ``size`` scales frames (``WxH``; timing is unchanged). ``start``/``count``: only frames ``start`` to
    ``start + count - 1`` come through the pipe (ffmpeg still decodes the frames before ``start``, but does not
    convert or send them, and stops after the last). ``strict``: anything ffmpeg reports at error level (a
    damaged or truncated stream decodes partly) raises InputError naming the file. Stopping early (closing the
    generator) ends ffmpeg quietly.
    """
    select = ["-vf", f"select=gte(n\\,{start})"] if start > 0 else []
    limit = ["-frames:v", str(count)] if count is not None else []
    cmd = [require("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error", *normalise_args(src), *select,
           *limit, *(["-s", size] if size else []), "-c:v", "rawvideo", "-pix_fmt", "bgr24", "-f", "nut", "pipe:1"]
    # stderr goes to a file: a pipe nobody reads while frames stream would fill up and stall ffmpeg
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errfile)
        assert proc.stdout is not None
        finished = False
        decode_error: Exception | None = None
        try:
            with av.open(proc.stdout, format="nut", mode="r") as container:
                stream = container.streams.video[0]
                for index, frame in enumerate(container.decode(stream), start):
                    yield Frame(index, int(frame.pts), frame.time_base, frame.to_ndarray(format="bgr24"))
            finished = True
        except av.error.FFmpegError as exc:  # the pipe ended badly: ffmpeg's own message says why
            decode_error = exc
        finally:
            if not finished and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
            proc.stdout.close()
            rc = proc.wait()
        errfile.seek(0)
        err = errfile.read().decode(errors="replace").strip()
        if rc != 0:
            raise ToolError(f"ffmpeg failed decoding {src}: {err[-2000:]}")
        if decode_error is not None:
            raise InputError(src, f"cannot be decoded ({decode_error}; ffmpeg: {err[-300:] or 'no message'})")
        if strict and err:
            raise InputError(src, f"damaged or truncated video (ffmpeg: {err.splitlines()[-1][:300]})")


def index_frames(src: str | Path) -> pd.DataFrame:
    """The frame table of a video: one decoding pass recording every frame's index and time."""
    rows = []
    for f in iter_normalised(src, size=INDEX_SIZE, strict=True):
        tb = f.time_base
        rows.append((f.index, f.pts, f"{tb.numerator}/{tb.denominator}", float(f.pts * tb)))
    if not rows:
        raise InputError(src, "contains no decodable video frames")
    return pd.DataFrame(rows, columns=FRAME_TABLE_COLUMNS)


def read_frame_table(path: str | Path) -> pd.DataFrame:
    """A frame table written by the ``index_frames`` stage (``frames.tsv``)."""
    return pd.read_csv(path, sep="\t")


def image_frame_table() -> pd.DataFrame:
    """The frame table of a still image: one frame."""
    return pd.DataFrame([(0, 0, "1/1", 0.0)], columns=FRAME_TABLE_COLUMNS)


def chunk_ranges(n_frames: int, chunks: int) -> list[tuple[int, int]]:
    """``chunks`` contiguous, near-equal frame ranges ``[start, stop)`` covering ``n_frames`` (none empty
    unless there are fewer frames than chunks)."""
    if chunks < 1:
        raise ValueError("chunks must be at least 1")
    bounds = [round(k * n_frames / chunks) for k in range(chunks + 1)]
    return list(zip(bounds[:-1], bounds[1:], strict=True))


def iter_video_frames(src: str | Path, table: pd.DataFrame, start: int = 0, stop: int | None = None,
                      wanted: set[int] | None = None) -> Iterator[Frame]:
    """Frames ``start`` to ``stop`` (exclusive; optionally only ``wanted`` indices) of a video whose frame
    table is ``table``. Every decoded frame's time is checked against the table up to ``stop``."""
    stop = len(table) if stop is None else stop
    if stop <= start:  # an empty chunk (a video with fewer frames than chunks)
        return
    expected = table["pts"].to_numpy(dtype=np.int64)
    seen = start
    frames = iter_normalised(src, start=start, count=stop - start)
    try:
        for frame in frames:
            if frame.index >= len(expected) or expected[frame.index] != frame.pts:
                raise InputError(src, f"decoding is not repeatable: frame {frame.index} differs from the "
                                      "frame table's timing")
            seen = frame.index + 1
            if wanted is None or frame.index in wanted:
                yield frame
    finally:
        frames.close()
    if seen < stop:
        raise InputError(src, f"frames {start} to {stop - 1} of the frame table ({len(table)} frames) were "
                              f"wanted but decoding ended at frame {seen}")


def iter_chunk(src: str | Path, table: pd.DataFrame, chunk: str, wanted: set[int] | None = None) -> Iterator[Frame]:
    """The frames of one chunk (``"2of4"``) of a video, or the single frame of a still image."""
    if is_image(src):
        yield Frame(0, 0, Fraction(1, 1), read_image(src))
        return
    part, chunks = parse_chunk_label(chunk)
    start, stop = chunk_ranges(len(table), chunks)[part - 1]
    yield from iter_video_frames(src, table, start, stop, wanted)


def nominal_rate(table: pd.DataFrame) -> Fraction:
    """The frame rate implied by the median step between frames (for VFR too: a nominal figure). NUT files
    store no per-packet durations: readers derive them from this rate, so every lossless chunk of a video
    carries the same one, and joined chunks encode exactly as one whole file."""
    pts = table["pts"].to_numpy(dtype=np.int64)
    step = int(np.median(np.diff(pts))) if len(pts) > 1 else 0
    tb = Fraction(table.at[0, "time_base"])
    return 1 / (step * tb) if step > 0 else Fraction(25)


def parse_chunk_label(label: str) -> tuple[int, int]:
    part, _, chunks = label.partition("of")
    p, n = int(part), int(chunks)
    if not 1 <= p <= n:
        raise ValueError(f"bad chunk label {label!r}")
    return p, n


def private_dir(path: str | Path) -> Path:
    """Create ``path`` (and its parent, the video's ``work/`` folder) owner-only: 0700."""
    p = Path(path)
    p.mkdir(parents=True, exist_ok=True)
    for d in (p.parent, p):
        d.chmod(0o700)
    return p


def private_file(path: str | Path) -> Path:
    """Create ``path`` empty and owner-only (0600) before a writer that keeps existing modes opens it."""
    p = Path(path)
    private_dir(p.parent)
    os.close(os.open(p, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    p.chmod(0o600)
    return p


def concat_nut(parts: list[str | Path], out: str | Path) -> None:
    """Join FFV1/NUT chunk files (intra-only, same stream settings) into one, packet for packet, atomically."""
    with atomic_output(out) as tmp:
        private_file(tmp)
        with av.open(str(parts[0])) as first:
            template = first.streams.video[0]
            with av.open(str(tmp), mode="w", format="nut") as dst:
                ostream = dst.add_stream_from_template(template)
                ostream.time_base = template.time_base
                # NUT keeps no per-packet durations: readers derive them from the stream's rate, so keep it
                if template.guessed_rate:
                    ostream.codec_context.framerate = template.guessed_rate
                for part in parts:
                    with av.open(str(part)) as src:
                        istream = src.streams.video[0]
                        for packet in src.demux(istream):
                            if packet.dts is None:
                                continue  # the demuxer's end-of-stream flush packet
                            packet.stream = ostream
                            dst.mux(packet)


class FFV1Writer:
    """Writes BGR frames losslessly (FFV1 in NUT) with the given timestamps, atomically on close."""

    def __init__(self, path: str | Path, width: int, height: int, time_base: Fraction,
                 rate: Fraction | None = None) -> None:
        """``rate``: the nominal frame rate stored with the stream (a reader derives frame durations from it)."""
        self.path = Path(path)
        # blurred frames may still hold a missed face: owner-only (0600 in a 0700 folder) from the first byte
        self._tmp = private_file(temporary_name(self.path))
        self._container = av.open(str(self._tmp), mode="w", format="nut")
        self._stream = self._container.add_stream("ffv1", rate=rate)
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "bgr0"
        self._stream.time_base = time_base
        self._stream.codec_context.time_base = time_base
        self.frames = 0

    def write(self, image: np.ndarray, pts: int) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = pts
        for packet in self._stream.encode(frame):
            self._container.mux(packet)
        self.frames += 1

    def close(self) -> None:
        for packet in self._stream.encode(None):
            self._container.mux(packet)
        self._container.close()
        self._tmp.replace(self.path)

    def abort(self) -> None:
        """Discard the partial file (also after a failed ``close``, e.g. on a full disk)."""
        try:
            self._container.close()
        except Exception:  # the file is being discarded; its error is not the one to report
            pass
        finally:
            self._tmp.unlink(missing_ok=True)
