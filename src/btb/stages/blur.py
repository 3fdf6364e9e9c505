"""Blurring and encoding stages (environment ``envs/video.yaml``): the regions painted into the frames and the
result encoded and checked; still images blurred and written without metadata."""

from __future__ import annotations

from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import pandas as pd

from btb.audit.io import atomic_output, write_json
from btb.audit.records import stage_record
from btb.errors import InputError
from btb.regions.blur import BlurParams, blur_frame
from btb.regions.tables import read_regions, regions_by_frame
from btb.video.check import check_output
from btb.video.encode import EncodeParams, encode_frames, encode_video
from btb.video.frames import (
    FFV1Writer,
    Frame,
    chunk_ranges,
    concat_nut,
    iter_video_frames,
    nominal_rate,
    parse_chunk_label,
    private_file,
    read_frame_table,
)
from btb.video.image import check_image, read_image, write_image


def _blurred_frames(video: str, frames: pd.DataFrame, start: int, stop: int, by_frame: dict[int, pd.DataFrame],
                    bp: BlurParams) -> Iterator[Frame]:
    """Frames ``start`` to ``stop`` of a video, each with its regions blurred."""
    for frame in iter_video_frames(video, frames, start, stop):
        regs = by_frame.get(frame.index)
        yield frame if regs is None else Frame(frame.index, frame.pts, frame.time_base,
                                               blur_frame(frame.image, regs, bp))


def blur_chunk(*, video: str, regions: str, frame_table: str, chunk: str, out: str, audit: str, video_id: str,
               blur: dict[str, Any]) -> None:
    """Blur the regions of one chunk of a video's frames into a lossless FFV1 file, for ``encode`` to join
    with the other chunks (runs with one chunk per video blur while encoding instead: no such file)."""
    bp = BlurParams(**blur)
    with stage_record("blur_frames", video_id, {**blur, "chunk": chunk}, audit) as rec:
        rec.add_inputs(video, regions, frame_table)
        frames = read_frame_table(frame_table)
        part, chunks = parse_chunk_label(chunk)
        start, stop = chunk_ranges(len(frames), chunks)[part - 1]
        by_frame = regions_by_frame(read_regions(regions))
        writer: FFV1Writer | None = None
        n = 0
        try:
            for frame in _blurred_frames(video, frames, start, stop, by_frame, bp):
                if writer is None:
                    h, w = frame.image.shape[:2]
                    writer = FFV1Writer(out, w, h, Fraction(frame.time_base), nominal_rate(frames))
                writer.write(frame.image, frame.pts)
                n += 1
            if writer is None:  # an empty chunk (fewer frames than chunks): an empty file, skipped by encode
                private_file(out)
            else:
                writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        rec.add_outputs(out)
        rec.counts = {"frames": n, "frames_blurred": sum(1 for i in by_frame if start <= i < stop)}


def blur_image(*, image: str, regions: str, probe_json: str, out: str, check_json: str, audit: str, video_id: str,
               blur: dict[str, Any]) -> None:
    """Still images: blur, write without metadata, and check before the output gets its final name."""
    with stage_record("blur_image", video_id, blur, audit) as rec:
        rec.add_inputs(image, regions)
        pixels = read_image(image)
        reg = read_regions(regions)
        blurred = blur_frame(pixels, reg, BlurParams(**blur)) if len(reg) else pixels
        info = pd.read_json(probe_json, typ="series")
        with atomic_output(out, keep_suffix=True) as part:
            write_image(blurred, part)
            report = check_image(part, int(info["width"]), int(info["height"]))
            if not report["passed"]:
                raise InputError(image, "output image failed its check: " + "; ".join(report["problems"]))
        write_json(check_json, report)
        rec.add_outputs(out, check_json)
        rec.counts = {"regions_blurred": len(reg)}


def encode_output(*, blurred: list[str], video: str, probe_json: str, frame_table: str, out: str, check_json: str,
           audit: str, video_id: str, encode: dict[str, Any], threads: int, regions: str | None = None,
           blur: dict[str, Any] | None = None) -> None:
    """Encode, then check the encoded file with ffprobe before it gets its final name.

    ``blurred``: the lossless blurred chunks of a chunked run, joined and encoded. Empty: this job blurs
    ``regions`` itself and streams the frames straight into the encoder (nothing face-bearing on disk)."""
    ep = EncodeParams(**encode, threads=threads)
    streamed = not blurred
    if streamed and (regions is None or blur is None):
        raise ValueError("encode without blurred chunks needs the regions and blur parameters")
    record_params = {**encode, "blur": blur} if streamed else encode
    with stage_record("encode_video", video_id, record_params, audit) as rec:
        rec.add_inputs(*(blurred or [video, regions]), frame_table)
        info = pd.read_json(probe_json, typ="series")
        width, height = int(info["width"]), int(info["height"])
        expect_audio = ep.audio == "keep" and int(info["n_audio_streams"]) > 0
        frames = read_frame_table(frame_table)
        report: dict[str, Any] = {}

        def accept(candidate: Path) -> None:
            report.update(check_output(candidate, frames, width, height, expect_audio))
            if not report["passed"]:
                raise InputError(video, "encoded output failed its check: " + "; ".join(report["problems"]))

        if streamed:
            assert regions is not None and blur is not None
            by_frame = regions_by_frame(read_regions(regions))
            source = ((f.image, f.pts) for f in _blurred_frames(video, frames, 0, len(frames), by_frame,
                                                                 BlurParams(**blur)))
            encode_frames(source, Fraction(frames.at[0, "time_base"]), nominal_rate(frames), video, out, ep,
                          width, height, accept=accept)
            rec.counts = {"frames_blurred": len(by_frame)}
        else:
            blurred = [b for b in blurred if Path(b).stat().st_size > 0]  # empty chunks hold no frames
            if len(blurred) == 1:
                encode_video(blurred[0], video, out, ep, width, height, accept=accept)
            else:  # chunks blurred as separate jobs: joined packet for packet into one temporary lossless file
                joined = Path(blurred[0]).with_name("blurred.joined.nut")
                try:
                    concat_nut(blurred, joined)
                    encode_video(joined, video, out, ep, width, height, accept=accept)
                finally:
                    joined.unlink(missing_ok=True)
        write_json(check_json, report)
        rec.add_outputs(out, check_json)
        rec.counts = {**rec.counts, "output_frames": report["frames"]}
