"""Frame store and normalised decoding on real ffmpeg-made clips: VFR timing, rotation, odd sizes."""

import subprocess

import numpy as np
import pytest

from btb.errors import InputError, ToolError
from btb.video.encode import EncodeParams, encode_video, pixel_format
from btb.video.frames import FFV1Writer, extract_store, iter_normalised, iter_store
from btb.video.probe import frame_times, probe_video


def ff(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


@pytest.fixture(scope="module")
def vfr_clip(tmp_path_factory):
    path = tmp_path_factory.mktemp("vfr") / "vfr.mp4"
    # 30 fps with a 0.5 s pause after frame 20: variable frame rate
    ff("-f", "lavfi", "-i", "testsrc=size=160x96:rate=30", "-t", "1.5",
       "-vf", "setpts='PTS+if(gt(N,20),0.5/TB,0)'", "-c:v", "libx264", "-fps_mode", "vfr", str(path))
    return path


def test_store_keeps_every_frame_time(vfr_clip, tmp_path):
    table = extract_store(vfr_clip, tmp_path / "store", chunk_seconds=0.5)
    src = frame_times(vfr_clip)
    assert len(table) == len(src) == 30
    assert np.diff(src).max() > 0.5, "the clip really has a pause"
    assert np.allclose(table["pts_time"] - table["pts_time"][0], np.array(src) - src[0], atol=1e-4)
    assert table["chunk"].nunique() > 1, "stored in several segments"
    assert len(list((tmp_path / "store").iterdir())) == table["chunk"].nunique(), "one file per chunk, not per frame"
    assert (tmp_path / "store").stat().st_mode & 0o077 == 0, "frame store is owner-only"
    frames = list(iter_store(tmp_path / "store"))
    assert [f.index for f in frames] == list(range(30))
    decoded = list(iter_normalised(vfr_clip))
    assert all((a.image == b.image).all() and a.pts == b.pts for a, b in zip(frames, decoded, strict=True))
    only = [f.index for f in iter_store(tmp_path / "store", wanted={3, 25})]
    assert only == [3, 25]


def reencode(src, tmp_path, width, height):
    """The pipeline's last two steps with nothing blurred: lossless FFV1 with the frames' times, then encode."""
    frames = list(iter_normalised(src))
    w = FFV1Writer(tmp_path / "b.nut", width, height, frames[0].time_base)
    for f in frames:
        w.write(f.image, f.pts)
    w.close()
    encode_video(tmp_path / "b.nut", src, tmp_path / "o.mp4", EncodeParams(preset="ultrafast"), width, height)


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
        encode_video(tmp_path / "missing.nut", tmp_path / "missing.mp4", tmp_path / "o.mp4", EncodeParams(), 16, 16)
    assert list(tmp_path.iterdir()) == []
