"""Frame indexing, chunks and normalised decoding on real ffmpeg-made clips: VFR timing, rotation, odd sizes."""

import subprocess
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from btb.errors import InputError, ToolError
from btb.video.encode import EncodeParams, encode_frames, encode_video, pixel_format
from btb.video.frames import (
    FFV1Writer,
    chunk_ranges,
    concat_nut,
    index_frames,
    iter_normalised,
    iter_video_frames,
    nominal_rate,
)
from btb.video.probe import frame_times, probe_video

FAST = EncodeParams(crf=18, preset="ultrafast", audio="drop", audio_bitrate="192k")


def ff(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    # 30 fps with a 0.5 s pause after frame 20: variable frame rate
    ff("-f", "lavfi", "-i", "testsrc=size=160x96:rate=30", "-t", "1.5",
       "-vf", "setpts='PTS+if(gt(N,20),0.5/TB,0)'", "-c:v", "libx264", "-fps_mode", "vfr", str(path))
    return path


def test_index_keeps_every_frame_time(vfr_clip):
    table = index_frames(vfr_clip)
    src = frame_times(vfr_clip)
    assert len(table) == len(src) == 30
    assert np.diff(src).max() > 0.5, "the clip really has a pause"
    assert np.allclose(table["pts_time"] - table["pts_time"][0], np.array(src) - src[0], atol=1e-4)
    frames = list(iter_video_frames(vfr_clip, table))
    assert [f.index for f in frames] == list(range(30))
    decoded = list(iter_normalised(vfr_clip))
    assert all((a.image == b.image).all() and a.pts == b.pts for a, b in zip(frames, decoded, strict=True))
    only = [f.index for f in iter_video_frames(vfr_clip, table, wanted={3, 25})]
    assert only == [3, 25]


def test_chunks_cover_every_frame_once(vfr_clip):
    assert chunk_ranges(10, 3) == [(0, 3), (3, 7), (7, 10)]
    assert chunk_ranges(5, 1) == [(0, 5)]
    for n, k in [(30, 4), (7, 7), (101, 8)]:
        ranges = chunk_ranges(n, k)
        assert ranges[0][0] == 0 and ranges[-1][1] == n and len(ranges) == k
        assert all(a[1] == b[0] and a[0] < a[1] for a, b in zip(ranges, ranges[1:], strict=False))
    table = index_frames(vfr_clip)
    pieces = [list(iter_video_frames(vfr_clip, table, a, b)) for a, b in chunk_ranges(len(table), 4)]
    assert [f.index for piece in pieces for f in piece] == list(range(30))
    assert [f.pts for piece in pieces for f in piece] == table["pts"].tolist()


def test_repeatability_is_checked(vfr_clip):
    table = index_frames(vfr_clip)
    table.loc[5, "pts"] += 1
    with pytest.raises(InputError, match="not repeatable"):
        list(iter_video_frames(vfr_clip, table))
    real = index_frames(vfr_clip)
    longer = pd.concat([real, real.assign(pts=real["pts"] + 10**6)], ignore_index=True)
    with pytest.raises(InputError, match="frames 25 to 39 of the frame table .60 frames. were wanted but decoding "
                                         "ended at frame 30"):
        list(iter_video_frames(vfr_clip, longer, 25, 40))


def test_joined_chunks_encode_like_one_file(vfr_clip, tmp_path):
    """Blurred chunks joined packet for packet give the encoder exactly what one whole file gives it."""
    frames = list(iter_normalised(vfr_clip))
    table = index_frames(vfr_clip)
    rate = nominal_rate(table)
    whole = FFV1Writer(tmp_path / "whole.nut", 160, 96, frames[0].time_base, rate)
    for f in frames:
        whole.write(f.image, f.pts)
    whole.close()
    parts = []
    for k, (a, b) in enumerate(chunk_ranges(len(frames), 3)):
        w = FFV1Writer(tmp_path / f"part{k}.nut", 160, 96, frames[0].time_base, rate)
        for f in frames[a:b]:
            w.write(f.image, f.pts)
        w.close()
        parts.append(tmp_path / f"part{k}.nut")
    concat_nut(parts, tmp_path / "joined.nut")
    assert (tmp_path / "joined.nut").stat().st_mode & 0o077 == 0, "owner-only"
    for name in ("whole", "joined"):
        encode_video(tmp_path / f"{name}.nut", vfr_clip, tmp_path / f"{name}.mp4", FAST,
                     160, 96)
    assert (tmp_path / "whole.mp4").read_bytes() == (tmp_path / "joined.mp4").read_bytes()
    # frames streamed straight into the encoder (one job blurs and encodes) give the same bytes again
    sent = encode_frames(((f.image, f.pts) for f in frames), frames[0].time_base, rate, vfr_clip,
                         tmp_path / "streamed.mp4", FAST, 160, 96)
    assert sent == len(frames)
    assert (tmp_path / "streamed.mp4").read_bytes() == (tmp_path / "whole.mp4").read_bytes()
    # the last frame keeps the source's frame step (1/30 s), not a default frame rate's
    assert abs(probe_video(tmp_path / "whole.mp4").duration_s - 1.5) < 0.005


def test_early_stop_ends_ffmpeg_quietly(vfr_clip):
    gen = iter_normalised(vfr_clip)
    assert next(gen).index == 0
    gen.close()  # no error: ffmpeg is ended, not reported as failed


def test_damaged_stream_is_refused(vfr_clip, tmp_path):
    cut = tmp_path / "cut.mp4"
    data = vfr_clip.read_bytes()
    cut.write_bytes(data[: len(data) * 2 // 3])
    with pytest.raises((InputError, ToolError)):
        index_frames(cut)


def reencode(src, tmp_path, width, height):
    """The pipeline's last two steps with nothing blurred: lossless FFV1 with the frames' times, then encode."""
    frames = list(iter_normalised(src))
    w = FFV1Writer(tmp_path / "b.nut", width, height, frames[0].time_base)
    for f in frames:
        w.write(f.image, f.pts)
    w.close()
    encode_video(tmp_path / "b.nut", src, tmp_path / "o.mp4", FAST, width, height)


def test_vfr_survives_encode(vfr_clip, tmp_path):
    reencode(vfr_clip, tmp_path, 160, 96)
    src, out = frame_times(vfr_clip), frame_times(tmp_path / "o.mp4")
    assert np.allclose(np.array(out) - out[0], np.array(src) - src[0], atol=1e-3)


def test_rotation_is_applied(tmp_path):
    plain = tmp_path / "plain.mp4"
    ff("-f", "lavfi", "-i", "testsrc=size=160x96:rate=10", "-t", "0.5", "-c:v", "libx264", "-pix_fmt", "yuv420p",
       str(plain))
    rotated = tmp_path / "rotated.mp4"
    ff("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=90", str(rotated))
    info = probe_video(rotated)
    assert info.rotation in (90, 270) and (info.width, info.height) == (96, 160)
    assert next(iter_normalised(rotated)).image.shape == (160, 96, 3)


def test_odd_size_keeps_size(tmp_path):
    src = tmp_path / "odd.mp4"
    ff("-f", "lavfi", "-i", "testsrc=size=161x95:rate=10", "-t", "0.3", "-c:v", "libx264", "-pix_fmt", "yuv444p",
       str(src))
    reencode(src, tmp_path, 161, 95)
    assert pixel_format(161, 95) == "yuv444p"
    out = probe_video(tmp_path / "o.mp4")
    assert (out.width, out.height) == (161, 95)


@pytest.mark.parametrize("content", [b"", b"this is not a video\n" * 50])
def test_not_a_video_is_named(tmp_path, content):
    bad = tmp_path / "bad clip.mp4"
    bad.write_bytes(content)
    with pytest.raises(InputError) as exc:
        probe_video(bad)
    assert str(bad) in str(exc.value)


def test_audio_only_is_refused(tmp_path):
    a = tmp_path / "voice.m4a"
    ff("-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", str(a))
    with pytest.raises(InputError, match="no video stream"):
        probe_video(a)


def test_failed_encode_leaves_no_output(tmp_path):
    with pytest.raises(ToolError, match="missing.mp4"):
        encode_video(tmp_path / "missing.nut", tmp_path / "missing.mp4", tmp_path / "o.mp4", FAST, 16, 16)
    assert list(tmp_path.iterdir()) == []


def test_more_chunks_than_frames_encode_like_one(tmp_path):
    """A 2-frame video in 3 chunks: the middle one is empty (an empty file that encode skips); the output is
    byte-identical to blurring the video as one chunk (chunk_ranges(2, 3): frames 0, none, 1)."""
    from btb.regions.tables import empty_regions
    from btb.stages.blur import blur_chunk, encode_output
    from btb.stages.frames import index_video_frames, probe

    clip = tmp_path / "two.mp4"
    ff("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-frames:v", "2", "-c:v", "libx264", str(clip))
    probe(video=str(clip), out=str(tmp_path / "probe.json"), video_id="two")
    index_video_frames(video=str(clip), frame_table=str(tmp_path / "frames.tsv"), audit=str(tmp_path / "index.json"),
                       video_id="two")
    empty_regions().to_parquet(tmp_path / "regions.parquet")
    params = {"method": "gaussian", "detail": 6}
    encode = {"crf": 18, "preset": "ultrafast", "audio": "drop", "audio_bitrate": "128k"}
    outputs = {}
    for n in (1, 3):
        parts = []
        for k in range(1, n + 1):
            part = tmp_path / f"blurred.{k}of{n}.nut"
            blur_chunk(video=str(clip), regions=str(tmp_path / "regions.parquet"),
                       frame_table=str(tmp_path / "frames.tsv"), chunk=f"{k}of{n}", out=str(part),
                       audit=str(tmp_path / f"blur{k}of{n}.json"), video_id="two", blur=params)
            parts.append(str(part))
        out = tmp_path / f"out{n}.mp4"
        encode_output(blurred=parts, video=str(clip), probe_json=str(tmp_path / "probe.json"),
                      frame_table=str(tmp_path / "frames.tsv"), out=str(out),
                      check_json=str(tmp_path / f"check{n}.json"), audit=str(tmp_path / f"encode{n}.json"),
                      video_id="two", encode=encode, threads=1)
        outputs[n] = out.read_bytes()
        if n == 3:
            assert [Path(p).stat().st_size == 0 for p in parts] == [False, True, False]
    assert outputs[1] == outputs[3]
    # one chunk, blurred while encoding (no lossless file): the same bytes again
    encode_output(blurred=[], video=str(clip), probe_json=str(tmp_path / "probe.json"),
                  frame_table=str(tmp_path / "frames.tsv"), out=str(tmp_path / "s.mp4"),
                  check_json=str(tmp_path / "checks.json"), audit=str(tmp_path / "encodes.json"), video_id="two",
                  encode=encode, threads=1, regions=str(tmp_path / "regions.parquet"), blur=params)
    assert (tmp_path / "s.mp4").read_bytes() == outputs[1]


def test_streamed_encode_failures_leave_nothing(vfr_clip, tmp_path):
    """A frame source that fails midway (e.g. the source stops decoding as indexed) or an encoder that fails:
    the error comes through, ffmpeg is stopped, and no output or partial file is left."""
    frames = list(iter_normalised(vfr_clip))
    table = index_frames(vfr_clip)

    def failing():
        for f in frames[:5]:
            yield f.image, f.pts
        raise InputError(vfr_clip, "decoding is not repeatable: frame 5 differs from the frame table's timing")

    with pytest.raises(InputError, match="not repeatable"):
        encode_frames(failing(), frames[0].time_base, nominal_rate(table), vfr_clip, tmp_path / "o.mp4",
                      FAST, 160, 96)
    assert list(tmp_path.iterdir()) == []
    # the encoder refuses its settings: ffmpeg's own error, naming the source
    bad = EncodeParams(crf=18, preset="no-such-preset", audio="drop", audio_bitrate="192k")
    with pytest.raises(ToolError, match=f"ffmpeg failed on {vfr_clip}"):
        encode_frames(((f.image, f.pts) for f in frames), frames[0].time_base, nominal_rate(table), vfr_clip,
                      tmp_path / "o.mp4", bad, 160, 96)
    assert list(tmp_path.iterdir()) == []
    # an output check that refuses the file: nothing under the final name either
    def refuse(candidate):
        raise InputError(vfr_clip, "encoded output failed its check")

    with pytest.raises(InputError, match="failed its check"):
        encode_frames(((f.image, f.pts) for f in frames), frames[0].time_base, nominal_rate(table), vfr_clip,
                      tmp_path / "o.mp4", FAST, 160, 96, accept=refuse)
    assert list(tmp_path.iterdir()) == []


def test_tag_names_that_could_identify_are_recorded_hashed(tmp_path):
    """A container tag *named* after a patient reaches no record: known field names are kept (an auditor sees
    that GPS or dates were there), any other name is recorded as a hash."""
    clip = tmp_path / "tagged.mp4"
    ff("-f", "lavfi", "-i", "testsrc=size=64x48:rate=10", "-frames:v", "2", "-c:v", "libx264",
       "-movflags", "+use_metadata_tags", "-metadata", "PATIENT_Jane_Roe_MRN_12345=x", "-metadata",
       "location=+40.71-074.00/", str(clip))
    names = probe_video(clip).format_tag_names
    assert "location" in names
    assert not any("Jane" in n or "12345" in n for n in names)
    assert any(n.startswith("unlisted:") for n in names)
