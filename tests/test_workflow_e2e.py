"""End to end: the real Snakemake workflow, real YuNet + RetinaFace, real ffmpeg, on a short real-face clip."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import copy_clip, dry_run_jobs, run_snakemake, workflow_config

from btb.audit.verify import verify_manifest
from btb.regions.blur import region_mask
from btb.video.ffmpeg import ffprobe_json
from btb.video.frames import iter_normalised
from btb.video.probe import frame_times, probe_video

pytestmark = pytest.mark.e2e
VID = "child01"


def make_sheet(folder: Path, rows: dict[str, Path]) -> Path:
    sheet = folder / "samples.tsv"
    lines = ["video_id\tpath"] + [f"{vid}\t{path}" for vid, path in rows.items()]
    sheet.write_text("\n".join(lines) + "\n")
    return sheet


@pytest.fixture(scope="module")
def union_run(tmp_path_factory, face_clip, models_dir):
    work = tmp_path_factory.mktemp("union")
    clip = copy_clip(face_clip, work / "inputs" / "Jane Doe's clip (1).mp4")
    cfg = workflow_config(models_dir, make_sheet(work, {VID: clip}))
    run_snakemake(work, cfg)
    return work, cfg, clip


def out_path(work: Path, vid: str = VID) -> Path:
    return work / "results" / vid / f"{vid}.deid.mp4"


def test_output_keeps_size_frame_count_and_times(union_run):
    work, _, clip = union_run
    src, out = probe_video(clip), probe_video(out_path(work))
    assert (out.width, out.height) == (src.width, src.height)
    t_in, t_out = frame_times(clip), frame_times(out_path(work))
    assert len(t_out) == len(t_in) == 24
    assert np.allclose(np.array(t_out) - t_out[0], np.array(t_in) - t_in[0], atol=1e-3)
    check = json.loads((work / "results" / VID / "output_check.json").read_text())
    assert check["passed"] and check["frames"] == 24


def test_blur_regions_obscure_faces_and_leave_the_rest(union_run):
    work, _, clip = union_run
    regions = pd.read_parquet(work / "results" / VID / "regions.parquet")
    assert set(regions["frame_index"]) == set(range(24)), "both faces are visible in every frame"
    assert (regions.groupby("frame_index").size() >= 2).all(), "two faces per frame"
    inside_diff, far_diff = [], []
    for a, b in zip(iter_normalised(clip), iter_normalised(out_path(work)), strict=True):
        regs = regions[regions["frame_index"] == a.index]
        mask = region_mask(a.image.shape[0], a.image.shape[1], regs)
        near = cv2.dilate(mask.astype(np.uint8), np.ones((41, 41), np.uint8)).astype(bool)
        diff = np.abs(a.image.astype(np.int16) - b.image.astype(np.int16)).mean(axis=2)
        # high-pass energy inside the regions: blurring removes detail
        inside_diff.append(diff[mask].mean())
        far_diff.append(diff[~near].mean())
    assert np.mean(inside_diff) > 8, f"regions barely changed: {np.mean(inside_diff):.1f}"
    assert np.mean(far_diff) < 2.0, f"pixels far from regions changed: {np.mean(far_diff):.2f}"


def test_face_detail_is_gone(union_run):
    """Inside the blurred regions the image has no fine detail left (Laplacian energy collapses)."""
    work, _, clip = union_run
    regions = pd.read_parquet(work / "results" / VID / "regions.parquet")
    a = next(iter_normalised(clip))
    b = next(iter_normalised(out_path(work)))
    mask = region_mask(a.image.shape[0], a.image.shape[1], regions[regions["frame_index"] == 0])
    lap = lambda img: np.abs(cv2.Laplacian(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.CV_32F))  # noqa: E731
    assert lap(b.image)[mask].mean() < 0.25 * lap(a.image)[mask].mean()


def test_no_container_metadata_survives(union_run):
    work, _, clip = union_run
    src_tags = ffprobe_json(clip, "-show_format")["format"]["tags"]
    assert {"location", "make", "model", "title", "creation_time"} <= set(src_tags)
    data = ffprobe_json(out_path(work), "-show_format", "-show_streams")
    assert set(data["format"].get("tags", {})) <= {"major_brand", "minor_version", "compatible_brands"}
    for s in data["streams"]:
        tags = s.get("tags", {})
        assert "creation_time" not in tags and "location" not in tags
    raw = out_path(work).read_bytes()
    for needle in (b"Jane Doe", b"iPhone", b"40.7128", b"2024-05-01", b"x264 - core"):
        assert needle not in raw, needle


def test_audio_dropped_by_default(union_run):
    work, _, clip = union_run
    assert probe_video(clip).n_audio_streams == 1
    assert probe_video(out_path(work)).n_audio_streams == 0


def test_manifest_records_and_verify(union_run, capsys):
    work, _, clip = union_run
    manifest_path = work / "results" / VID / "manifest.json"
    m = json.loads(manifest_path.read_text())
    roles = {f["role"] for f in m["files"]}
    assert roles == {"input", "model", "output", "record"}, "one chunk: no intermediate file at all"
    # one chunk: each detection job writes the video's table itself (no chunk table, no gathering job)
    assert any(f["role"] == "output" and f["path"].endswith("/detections/yunet.parquet") for f in m["files"])
    assert not [f for f in m["files"] if "/chunks/" in f["path"]]
    # one chunk: the encoder blurs as it encodes, so no blurred frame was ever written to disk
    assert not [f for f in m["files"] if "/work/" in f["path"]], "no face-bearing intermediate"
    assert not (work / "results" / VID / "work").exists()
    import subprocess

    from conftest import REPO

    head = subprocess.run(["git", "-C", str(REPO), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode == 0:
        assert m["workflow"]["commit"] == head.stdout.strip()
    assert m["counts"]["index_frames.frames"] == 24
    assert m["counts"]["merge_regions.blur_regions"] > 0
    assert {"detect_yunet", "detect_retinaface_all", "merge_regions", "encode_video"} <= set(m["stages"])
    assert "Jane Doe" not in manifest_path.read_text().replace(str(clip), "")
    problems, checked = verify_manifest(manifest_path)
    assert problems == [] and checked >= 8
    # one flipped byte in the output is caught
    out = out_path(work)
    original = out.read_bytes()
    try:
        data = bytearray(original)
        data[len(data) // 2] ^= 0x01
        out.write_bytes(bytes(data))
        problems, _ = verify_manifest(manifest_path)
        assert [p.role for p in problems] == ["output"] and "sha256" in problems[0].problem
        from btb.cli import main

        assert main(["verify", str(manifest_path)]) == 1
    finally:
        out.write_bytes(original)
    from btb.cli import main

    assert main(["verify", str(manifest_path)]) == 0
    summary = pd.read_csv(work / "results" / "summary.tsv", sep="\t")
    assert list(summary["video_id"]) == [VID] and list(summary["status"]) == ["done"]


def test_features_are_written_hashed_and_listed(union_run):
    """The tabular features (docs/features.md): a track for each face of the clip, hashed in the manifest and
    listed in the run's RO-Crate."""
    work = union_run[0]
    feats = work / "results" / VID / "features"
    faces = pd.read_parquet(feats / "faces.parquet")
    tracks = pd.read_parquet(feats / "tracks.parquet")
    meta = json.loads((feats / "features.json").read_text())
    assert (meta["width"], meta["height"], meta["frames"]) == (640, 360, 24)
    detected = faces[faces["status"] == "detected"]
    assert len(detected) >= 40 and detected["lm0_x"].notna().all(), "both faces, with landmarks, most frames"
    assert detected["roll_deg"].notna().mean() > 0.9 and detected["yaw_deg"].abs().median() < 30
    assert len(tracks[tracks["frames_detected"] >= 12]) == 2, "two faces, one track each"
    listed = {f["path"]: f for f in json.loads((work / "results" / VID / "manifest.json").read_text())["files"]}
    for name in ("faces.parquet", "tracks.parquet", "frames.parquet", "features.json"):
        assert listed[f"results/{VID}/features/{name}"]["role"] == "output"
    crate = json.loads((work / "results" / "ro-crate-metadata.json").read_text())
    entities = {e["@id"]: e for e in crate["@graph"]}
    assert entities[f"{VID}/features/faces.parquet"]["exampleOfWork"]["@id"] == "#param-face_features"


def test_rerun_only_what_changed(union_run, face_clip):
    work, cfg, clip = union_run
    assert dry_run_jobs(work, cfg) == {}
    clip.touch()  # same bytes, newer mtime
    assert dry_run_jobs(work, cfg) == {}
    merge_changed = {**cfg, "merge": {**cfg["merge"], "mode": "intersection"}}
    downstream = {"verify_residual": 1, "decide_release": 1, "release": 1, "qa_report": 1, "write_manifest": 1,
                  "summarise_run": 1, "write_run_crate": 1, "all": 1}
    assert dry_run_jobs(work, merge_changed) == {"merge_regions": 1, "extract_features": 1, "encode_video": 1,
                                                 **downstream}
    second = copy_clip(face_clip, work / "inputs" / "second.mp4")
    (work / "sheet2").mkdir(exist_ok=True)
    added = {**cfg, "samples": str(make_sheet(work / "sheet2", {VID: clip, "child02": second}))}
    jobs = dry_run_jobs(work, added)
    assert jobs.pop("summarise_run") == 1 and jobs.pop("write_run_crate") == 1 and jobs.pop("all") == 1
    # every other job runs once: the new video's, not the first video's again
    assert jobs == {"probe_video": 1, "index_frames": 1, "detect_yunet": 1, "detect_retinaface": 1,
                    "detect_pose": 1, "merge_regions": 1, "extract_features": 1,
                    "encode_video": 1, "verify_residual": 1, "decide_release": 1, "release": 1, "qa_report": 1,
                    "write_manifest": 1}
    proc = run_snakemake(work, added, ["-n"])
    planned = [line for line in proc.stdout.splitlines() if "wildcards:" in line]
    assert planned and all("child02" in line for line in planned)


def test_audio_keep(union_run):
    work, cfg, clip = union_run
    keep = {**cfg, "encode": {**cfg["encode"], "audio": "keep"}}
    assert dry_run_jobs(work, keep) == {"encode_video": 1, "verify_residual": 1, "decide_release": 1, "release": 1,
                                        "qa_report": 1, "write_manifest": 1, "summarise_run": 1,
                                        "write_run_crate": 1, "all": 1}
    run_snakemake(work, keep)
    assert probe_video(out_path(work)).n_audio_streams == 1
    data = ffprobe_json(out_path(work), "-show_format", "-show_streams")
    assert set(data["format"].get("tags", {})) <= {"major_brand", "minor_version", "compatible_brands"}
    assert verify_manifest(work / "results" / VID / "manifest.json")[0] == []


def test_cascade_mode(tmp_path, face_clip, models_dir):
    clip = copy_clip(face_clip, tmp_path / "clip.mp4")
    cfg = workflow_config(models_dir, make_sheet(tmp_path, {"c1": clip}), merge__mode="cascade")
    run_snakemake(tmp_path, cfg)
    res = tmp_path / "results" / "c1"
    m = json.loads((res / "manifest.json").read_text())
    assert "select_cascade_frames" in m["stages"] and "detect_retinaface_cascade" in m["stages"]
    selected = pd.read_csv(res / "detections" / "cascade_frames.tsv", sep="\t")
    rf = pd.read_parquet(res / "detections" / "retinaface_cascade.parquet")
    assert set(rf["frame_index"]) <= set(selected["frame_index"])
    assert m["counts"]["select_cascade_frames.frames_selected"] == len(selected)
    assert m["counts"]["detect_retinaface_cascade.frames_processed"] == len(selected)
    regions = pd.read_parquet(res / "regions.parquet")
    assert set(regions["frame_index"]) == set(range(24))
    assert verify_manifest(res / "manifest.json")[0] == []
    assert json.loads((res / "output_check.json").read_text())["passed"]


def test_centerface_enabled(tmp_path, face_clip, models_dir):
    """The one run with CenterFace: detected in 2 chunks and gathered, merged, verified, in the QA report and
    the manifest; switched off again, only merging and what follows rerun, with the two-detector plan."""
    clip = copy_clip(face_clip, tmp_path / "clip.mp4")
    cfg = workflow_config(models_dir, make_sheet(tmp_path, {"c1": clip}), frames__chunks=2)
    cfg["detect"]["centerface"]["enabled"] = True
    run_snakemake(tmp_path, cfg)
    res = tmp_path / "results" / "c1"
    m = json.loads((res / "manifest.json").read_text())
    assert [s["stage"] for s in m["models"]] == ["stage_yunet", "stage_retinaface", "stage_centerface", "stage_pose"]
    assert {"detect_centerface_all.1of2", "detect_centerface_all.2of2", "detect_centerface_all"} <= set(m["stages"])
    assert m["counts"]["detect_centerface_all.frames_processed"] == 24
    assert m["config"]["detect"]["centerface"]["enabled"] is True
    assert any(f["path"].endswith("detections/centerface_all.parquet") for f in m["files"] if f["role"] == "output")
    cf = pd.read_parquet(res / "detections" / "centerface_all.parquet")
    assert set(cf["frame_index"]) == set(range(24)) and (cf["detector"] == "centerface").all()
    regions = pd.read_parquet(res / "regions.parquet")
    assert regions["source"].str.contains("centerface").any()
    verdict = json.loads((res / "verification" / "verdict.json").read_text())
    assert set(verdict["params"]["thresholds"]) == {"yunet", "retinaface", "centerface", "pose"}
    # no render flag: the encoded file is what its regions say
    assert set(verdict["by_detector"]) <= {"yunet:input", "retinaface:input", "centerface:input", "pose"}
    notes = m["stages"]["verify_residual"]["notes"]
    assert notes["redetected"] == [] and notes["render_checked"]
    assert notes["stored_checked"] == ["yunet", "retinaface", "centerface", "pose"]
    assert verify_manifest(res / "manifest.json")[0] == []
    off = {**cfg, "detect": {**cfg["detect"], "centerface": {**cfg["detect"]["centerface"], "enabled": False}}}
    assert dry_run_jobs(tmp_path, off) == {"merge_regions": 1, "extract_features": 1, "blur_frames": 2,
                                           "encode_video": 1,
                                           "verify_residual": 1, "decide_release": 1, "release": 1, "qa_report": 1,
                                           "write_manifest": 1, "summarise_run": 1, "write_run_crate": 1, "all": 1}


def test_a_config_of_only_samples_runs_in_another_directory(tmp_path, models_dir, monkeypatch):
    """`btb run --directory DIR --configfile mine.yaml` where mine.yaml names nothing but the sample sheet:
    config/config.yaml is found from any directory, every other key takes its schema default, and the run
    completes in DIR (its models.dir, resources/models, links to the staged models)."""
    from btb.cli import main
    from btb.video.demo import write_demo_video

    clip = write_demo_video(tmp_path / "in" / "short.mp4", fps=6, seconds=1.0)
    sheet = make_sheet(tmp_path / "in", {"short": clip})
    mine = tmp_path / "in" / "mine.yaml"
    mine.write_text(f"samples: {sheet}\n")
    work = tmp_path / "elsewhere"
    (work / "resources").mkdir(parents=True)
    (work / "resources" / "models").symlink_to(models_dir)
    monkeypatch.chdir(tmp_path)
    assert main(["run", "--directory", str(work), "--configfile", str(mine), "--cores", "2"]) == 0
    m = json.loads((work / "results" / "short" / "manifest.json").read_text())
    from btb.config import defaults

    expected = {k: v for k, v in defaults().items()
                if k not in ("samples", "input_dir", "input_ids", "input_map", "audit")}
    expected["audit"] = {"allow_unsafe_settings": False}
    expected["detect"] = {k: v for k, v in expected["detect"].items() if k != "centerface"}
    for section in ("thresholds", "cascade"):
        expected["merge"][section].pop("centerface")
    expected["verify"]["thresholds"].pop("centerface")
    assert m["config"] == expected, "the manifest records the schema's defaults"
    assert (work / "results" / "short" / "short.deid.mp4").is_file()
