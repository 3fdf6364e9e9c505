"""Inputs that carry more than a picture: subtitles (naming the child), timecode data tracks, a font and cover
art as Matroska attachments, an MP4 cover picture (attached_pic), and identifying tags. The output has the
one real video stream (not the cover), audio only with ``encode.audio: keep``, and nothing else: no subtitle,
data or attachment stream, no tags, no subtitle text."""

from __future__ import annotations

import subprocess

import pytest
from conftest import run_snakemake, workflow_config

from btb.audit.verify import verify_manifest
from btb.video.check import NEUTRAL_STREAM_TAGS, STRUCTURAL_FORMAT_TAGS
from btb.video.ffmpeg import ffprobe_json
from btb.video.probe import frame_times

pytestmark = pytest.mark.e2e
SUBTITLE = "Alice Smith, age 2, at home"


def ff(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *map(str, args)], check=True)


def streams(path) -> list[dict]:
    return ffprobe_json(path, "-show_streams")["streams"]


@pytest.fixture(scope="module")
def stray(tmp_path_factory, face_clip, models_dir):
    work = tmp_path_factory.mktemp("stray")
    d = work / "in"
    d.mkdir()
    (d / "subs.srt").write_text(f"1\n00:00:00,000 --> 00:00:01,500\n{SUBTITLE}\n")
    ff("-f", "lavfi", "-i", "color=red:size=64x64", "-frames:v", "1", d / "cover.jpg")
    (d / "font.ttf").write_bytes(b"not really a font, but an attachment all the same")
    mkv = d / "stray.mkv"
    ff("-i", face_clip, "-i", d / "subs.srt", "-map", "0:v", "-map", "0:a", "-map", "1:s", "-c:v", "copy",
       "-c:a", "copy", "-c:s", "srt", "-metadata", "title=Alice at home", "-metadata:s:s:0", "language=eng",
       "-attach", d / "font.ttf", "-metadata:s:t:0", "mimetype=application/x-truetype-font",
       "-attach", d / "cover.jpg", "-metadata:s:t:1", "mimetype=image/jpeg", "-metadata:s:t:1",
       "filename=cover.jpg", mkv)
    mp4 = d / "stray.mp4"
    ff("-i", face_clip, "-i", d / "subs.srt", "-i", d / "cover.jpg", "-map", "0:v", "-map", "0:a", "-map", "1:s",
       "-map", "2:v", "-c:v:0", "copy", "-c:v:1", "mjpeg", "-disposition:v:1", "attached_pic", "-c:a", "copy",
       "-c:s", "mov_text", "-timecode", "01:02:03:04", "-metadata", "title=Alice at home", mp4)
    # the inputs really carry what the test is about
    kinds = {p.suffix: [(s["codec_type"], s.get("disposition", {}).get("attached_pic", 0)) for s in streams(p)]
             for p in (mkv, mp4)}
    assert {("subtitle", 0), ("attachment", 0), ("video", 1), ("audio", 0)} <= set(kinds[".mkv"]), kinds
    assert {("subtitle", 0), ("data", 0), ("video", 1), ("audio", 0)} <= set(kinds[".mp4"]), kinds
    sheet = work / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nsmkv\t{mkv}\nsmp4\t{mp4}\n")
    drop = workflow_config(models_dir, sheet)  # audio: drop (the default)
    run_snakemake(work, drop)
    res = work / "results"
    dropped = {vid: {"output": (res / vid / f"{vid}.deid.mp4").read_bytes(),
                     "verify": verify_manifest(res / vid / "manifest.json")[0],
                     "work_left": (res / vid / "work").exists()} for vid in ("smkv", "smp4")}
    # audio: keep re-blurs and re-encodes; only those two stages are run again here
    keep = workflow_config(models_dir, sheet, encode__audio="keep")
    run_snakemake(work, keep, ["--allowed-rules", "blur_frames", "encode_video", "--",
                               *(f"results/{vid}/{vid}.deid.mp4" for vid in ("smkv", "smp4"))])
    return work, {"smkv": mkv, "smp4": mp4}, dropped


def check_output(path, source, audio: bool):
    s = streams(path)
    assert [x["codec_type"] for x in s] == (["video", "audio"] if audio else ["video"]), s
    video = s[0]
    assert not video.get("disposition", {}).get("attached_pic")
    src_video = next(x for x in streams(source) if x["codec_type"] == "video")
    assert (video["width"], video["height"]) == (src_video["width"], src_video["height"]) == (640, 360)
    assert len(frame_times(path)) == len(frame_times(source))
    fmt_tags = ffprobe_json(path, "-show_format")["format"].get("tags", {})
    assert set(fmt_tags) <= STRUCTURAL_FORMAT_TAGS, fmt_tags
    for x in s:
        assert {(k, v) for k, v in x.get("tags", {}).items()} <= NEUTRAL_STREAM_TAGS, x.get("tags")
    raw = path.read_bytes()
    for needle in (b"Alice", b"cover.jpg", b"font.ttf", b"not really a font", b"01:02:03"):
        assert needle not in raw, needle


@pytest.mark.parametrize("vid", ["smkv", "smp4"])
def test_default_output_has_one_video_stream_only(stray, vid, tmp_path):
    _, sources, dropped = stray
    out = tmp_path / "dropped.mp4"
    out.write_bytes(dropped[vid]["output"])
    check_output(out, sources[vid], audio=False)
    assert dropped[vid]["verify"] == []
    assert not dropped[vid]["work_left"], "face-bearing intermediates removed after success"


@pytest.mark.parametrize("vid", ["smkv", "smp4"])
def test_audio_keep_output_has_one_video_one_audio_nothing_else(stray, vid):
    work, sources, _ = stray
    check_output(work / "results" / vid / f"{vid}.deid.mp4", sources[vid], audio=True)
