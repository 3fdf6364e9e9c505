"""Normalised frames: one ffmpeg decode recipe shared by the frame store and the blur stage.

Normalised means: the first video stream only, display rotation applied to the pixels, BGR pixels, and every
frame's original presentation time kept (``-fps_mode passthrough``, the demuxer's time base), so variable
frame rate survives. The frame store holds these frames as lossless FFV1 segments in NUT files (a handful of
files per video, not one image per frame), with an index table of frame times.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pandas as pd

from btb.errors import InputError, ToolError
from btb.video.ffmpeg import require, run_ffmpeg

FRAME_TABLE_COLUMNS = ["frame_index", "chunk", "pts", "time_base", "pts_time"]


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


def extract_store(src: str | Path, store_dir: str | Path, chunk_seconds: float) -> pd.DataFrame:
    """Decode ``src`` into lossless FFV1 segments under ``store_dir`` (owner-only: folder 0700, files 0600);
    return the frame table. On any failure (damaged input, full disk) the partial store is removed."""
    store = Path(store_dir)
    if store.exists():
        shutil.rmtree(store)
    private_dir(store)
    try:
        errors = run_ffmpeg(
            [
                *normalise_args(src),
                "-c:v", "ffv1", "-level", "3", "-g", "1", "-pix_fmt", "bgr0",
                "-f", "segment", "-segment_format", "nut",
                "-segment_time", str(chunk_seconds), "-reset_timestamps", "0",
                str(store / "chunk_%05d.nut"),
            ],
            about=src, writing=store, private=True,
        )
        if errors:
            # a damaged or truncated file decodes partly: refuse it rather than de-identify half a video
            raise InputError(src, f"damaged or truncated video (ffmpeg: {errors.splitlines()[-1][:300]})")
        table = index_store(store)
        if table.empty:
            raise InputError(src, "contains no decodable video frames")
    except BaseException:
        shutil.rmtree(store, ignore_errors=True)
        raise
    return table


def chunk_files(store_dir: str | Path) -> list[Path]:
    return sorted(Path(store_dir).glob("chunk_*.nut"))


def image_store(image: np.ndarray, store_dir: str | Path) -> pd.DataFrame:
    """The frame store of a still image: one lossless PNG frame and a one-row frame table."""
    import cv2

    store = Path(store_dir)
    if store.exists():
        shutil.rmtree(store)
    private_dir(store)
    frame = private_file(store / "frame_00000.png")
    try:
        ok, data = cv2.imencode(".png", image)
        if not ok:
            raise InputError(frame, "could not encode the still frame")
        with open(frame, "wb") as fh:
            fh.write(data.tobytes())
    except BaseException:
        shutil.rmtree(store, ignore_errors=True)
        raise
    return pd.DataFrame([(0, 0, 0, "1/1", 0.0)], columns=FRAME_TABLE_COLUMNS)


def index_store(store_dir: str | Path) -> pd.DataFrame:
    """Frame table of a store, from packet timestamps (FFV1 here is intra-only: one packet per frame)."""
    rows = []
    for chunk_no, path in enumerate(chunk_files(store_dir)):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            tb = stream.time_base
            pts = sorted(p.pts for p in container.demux(stream) if p.pts is not None)
        rows.extend((chunk_no, t, f"{tb.numerator}/{tb.denominator}", float(t * tb)) for t in pts)
    df = pd.DataFrame(rows, columns=FRAME_TABLE_COLUMNS[1:])
    df.insert(0, "frame_index", np.arange(len(df), dtype=np.int64))
    return df


def iter_store(store_dir: str | Path, wanted: set[int] | None = None) -> Iterator[Frame]:
    """Frames of a store in order; with ``wanted``, only those frame indices (others are still decoded)."""
    stills = sorted(Path(store_dir).glob("frame_*.png"))
    if stills:
        import cv2

        for index, path in enumerate(stills):
            if wanted is None or index in wanted:
                yield Frame(index, index, Fraction(1, 1), cv2.imread(str(path), cv2.IMREAD_COLOR))
        return
    index = 0
    for path in chunk_files(store_dir):
        with av.open(str(path)) as container:
            stream = container.streams.video[0]
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if wanted is None or index in wanted:
                    yield Frame(index, int(frame.pts), frame.time_base, frame.to_ndarray(format="bgr24"))
                index += 1


def iter_normalised(src: str | Path) -> Iterator[Frame]:
    """Decode ``src`` with the normalising recipe, streaming raw frames through a pipe (nothing on disk)."""
    cmd = [
        require("ffmpeg"), "-nostdin", "-hide_banner", "-loglevel", "error",
        *normalise_args(src),
        "-c:v", "rawvideo", "-pix_fmt", "bgr24", "-f", "nut", "pipe:1",
    ]
    # stderr goes to a file: a pipe nobody reads while frames stream would fill up and stall ffmpeg
    with tempfile.TemporaryFile() as errfile:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=errfile)
        assert proc.stdout is not None
        try:
            with av.open(proc.stdout, format="nut", mode="r") as container:
                stream = container.streams.video[0]
                for index, frame in enumerate(container.decode(stream)):
                    yield Frame(index, int(frame.pts), frame.time_base, frame.to_ndarray(format="bgr24"))
        finally:
            proc.stdout.close()
            rc = proc.wait()
            errfile.seek(0)
            err = errfile.read().decode(errors="replace")
    if rc != 0:
        raise ToolError(f"ffmpeg failed decoding {src}: {err.strip()[-2000:]}")


class FFV1Writer:
    """Writes BGR frames losslessly (FFV1 in NUT) with the given timestamps, atomically on close. The file is
    face-bearing: owner-only (0600) in an owner-only folder from its first byte."""

    def __init__(self, path: str | Path, width: int, height: int, time_base: Fraction) -> None:
        self.path = Path(path)
        self._tmp = private_file(self.path.with_name(f".{self.path.name}.part"))
        self._container = av.open(str(self._tmp), mode="w", format="nut")
        self._stream = self._container.add_stream("ffv1")
        self._stream.width, self._stream.height = width, height
        self._stream.pix_fmt = "bgr0"
        self._stream.time_base = time_base
        self._stream.codec_context.time_base = time_base
        self.frames = 0

    def write(self, image: np.ndarray, pts: int) -> None:
        frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(image), format="bgr24")
        frame.pts = pts
        frame.time_base = self._stream.time_base
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
