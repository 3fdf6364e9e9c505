"""Hostile and unusual inputs in one run: each bad one fails alone with an error naming the file and the
problem, leaves no output, and is listed in the run summary; the unusual but valid ones are de-identified."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pandas as pd
import pytest
from conftest import run_snakemake, workflow_config

from btb.video.probe import frame_times, probe_video

pytestmark = pytest.mark.e2e


def ff(*args):
    subprocess.run(["ffmpeg", "-v", "error", "-y", *args], check=True)


def lavfi(out, size="160x96", seconds="0.5", extra=(), src="testsrc2", rate=10):
    ff("-f", "lavfi", "-i", f"{src}=size={size}:rate={rate}", "-t", seconds, *extra, str(out))
    return out


@pytest.fixture(scope="module")
def matrix(tmp_path_factory, face_clip, models_dir):
    work = tmp_path_factory.mktemp("hostile")
    d = work / "in"
    d.mkdir()
    good = {
        "good_faces": shutil.copyfile(face_clip, d / "clip with spaces 'q' \"dq\" $(rm -rf) ünïcødé.mp4"),
        "single_frame": lavfi(d / "one.mp4", extra=("-frames:v", "1", "-c:v", "libx264")),
        "tiny_32": lavfi(d / "tiny.mp4", size="32x32", extra=("-c:v", "libx264")),
        "odd_641x359": lavfi(d / "odd.mp4", size="641x359", extra=("-c:v", "libx264", "-pix_fmt", "yuv444p")),
        "ten_bit_422": lavfi(d / "tenbit.mov", extra=("-c:v", "libx264", "-pix_fmt", "yuv422p10le")),
        "mkv": lavfi(d / "a.mkv", extra=("-c:v", "libx264",)),
        "avi": lavfi(d / "a.avi", extra=("-c:v", "mpeg4",)),
        "webm": lavfi(d / "a.webm", extra=("-c:v", "libvpx-vp9", "-b:v", "200k")),
        "uhd_4k": lavfi(d / "uhd.mp4", size="3840x2160", seconds="0.2", extra=("-c:v", "libx264", "-preset",
                                                                                "ultrafast")),
    }
    plain = lavfi(d / "plain.mp4", seconds="4", extra=("-c:v", "libx264", "-movflags", "+faststart"))
    rotated = d / "rotated.mp4"
    ff("-i", str(plain), "-c", "copy", "-metadata:s:v:0", "rotate=270", str(rotated))
    good["rotated_270"] = rotated
    text = d / "notes.mp4"
    text.write_text("this is not a video\n" * 100)
    empty = d / "empty.mp4"
    empty.write_bytes(b"")
    image = d / "photo.mp4"
    import cv2
    import numpy as np

    cv2.imwrite(str(d / "photo.png"), np.zeros((40, 40, 3), np.uint8))
    os.replace(d / "photo.png", image)
    truncated = d / "truncated.mp4"
    truncated.write_bytes(plain.read_bytes()[: plain.stat().st_size // 2])
    voice = d / "voice.mp4"
    ff("-f", "lavfi", "-i", "sine=duration=0.5", "-c:a", "aac", str(voice))
    bad = {
        "not_a_video": (text, "not a readable media file"),
        "empty": (empty, "not a readable media file"),
        "image_renamed": (image, "is a still image"),
        "truncated": (truncated, "damaged or truncated"),
        "audio_only": (voice, "no video stream"),
        "missing": (d / "gone.mp4", "file does not exist"),
    }
    sheet = work / "samples.tsv"
    rows = [f"{vid}\t{path}" for vid, path in good.items()] + [f"{vid}\t{p}" for vid, (p, _) in bad.items()]
    sheet.write_text("video_id\tpath\n" + "\n".join(rows) + "\n")
    # what is tested is the handling of the inputs: the head locator and the features (tested elsewhere) are
    # left out, 20 jobs fewer
    cfg = workflow_config(models_dir, sheet, detect__pose__enabled=False, features__enabled=False)
    proc = run_snakemake(work, cfg, check=False)
    return work, good, bad, proc


def test_run_fails_but_finishes_every_good_video(matrix):
    work, good, bad, proc = matrix
    assert proc.returncode != 0
    for vid, src in good.items():
        out = work / "results" / vid / f"{vid}.deid.mp4"
        assert (work / "results" / vid / "manifest.json").is_file(), (vid, proc.stderr[-3000:])
        a, b = probe_video(src), probe_video(out)
        assert (b.width, b.height) == (a.width, a.height), vid
        assert len(frame_times(out)) == len(frame_times(src)), vid
    assert probe_video(work / "results" / "rotated_270" / "rotated_270.deid.mp4").width == 96


def test_each_bad_input_fails_alone_with_a_named_reason(matrix):
    work, _, bad, proc = matrix
    summary = pd.read_csv(work / "results" / "summary.tsv", sep="\t").set_index("video_id")
    for vid, (path, problem) in bad.items():
        failure = json.loads((work / "results" / vid / "failure.json").read_text())
        assert failure["status"] == "failed" and problem in failure["error"], (vid, failure)
        assert str(path.name) in failure["error"], "the error names the file"
        assert summary.loc[vid, "status"] == "failed"
        assert not list((work / "results" / vid).glob("*.deid.*")), "no output that looks finished"
        assert not (work / "results" / vid / "work").exists(), "no face-bearing intermediates left"
        assert f"{vid} FAILED" in proc.stderr
    assert (summary["status"] == "done").sum() == 10
    run_html = (work / "results" / "summary.html").read_text()  # the HTML summary agrees with the TSV
    assert all(f"<td>{vid}</td><td>failed</td>" in run_html for vid in bad)
