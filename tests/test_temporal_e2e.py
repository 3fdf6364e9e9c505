"""End to end: a toy passes in front of a face for four frames; the detectors lose it, tracks cover it."""

from __future__ import annotations

import cv2
import pandas as pd
import pytest
from conftest import dry_run_jobs, run_snakemake, workflow_config

from btb.audit.verify import verify_manifest
from btb.evaluation.metrics import face_coverages
from btb.video.demo import demo_frames, demo_ground_truth, write_demo_video

pytestmark = pytest.mark.e2e
HIDDEN = range(10, 14)


@pytest.fixture(scope="module")
def occluded_run(tmp_path_factory, models_dir):
    work = tmp_path_factory.mktemp("occluded")
    frames = demo_frames(n_frames=24)
    gt = [g for g in demo_ground_truth(24)]
    big = {i: (x, y, w, h) for i, x, y, w, h in gt[::2]}  # the first sprite of each frame is the big face
    for i in HIDDEN:
        x, y, w, h = big[i]
        # an orange toy covers 80% of the face, leaving a strip of cheek no detector recognises
        cv2.rectangle(frames[i], (int(x + 0.2 * w), int(y - 0.3 * h)), (int(x + 1.2 * w), int(y + 1.3 * h)),
                      (60, 140, 220), -1)
    clip = write_demo_video(work / "toy.mp4", fps=12, seconds=2.0, frames=frames)
    sheet = work / "samples.tsv"
    sheet.write_text(f"video_id\tpath\ntoy\t{clip}\n")
    cfg = workflow_config(models_dir, sheet)
    run_snakemake(work, cfg)
    gt_table = pd.DataFrame([(i, x, y, w, h, 1) for i, (x, y, w, h) in big.items()],
                            columns=["frame_index", "x", "y", "w", "h", "labeled"])
    return work, cfg, gt_table


def coverage(work, gt_table):
    regions = pd.read_parquet(work / "results" / "toy" / "regions.parquet")
    return face_coverages(gt_table, regions, 360, 640).set_index("frame_index")["coverage"], regions


def test_tracks_cover_the_hidden_frames(occluded_run):
    work, _, gt = occluded_run
    cov, regions = coverage(work, gt)
    assert (cov >= 0.8).all(), cov[cov < 0.8]
    hidden = regions[regions.frame_index.isin(HIDDEN)]
    assert "temporal_fill" in set(hidden.source)
    yunet = pd.read_parquet(work / "results" / "toy" / "detections" / "yunet.parquet")
    assert not ((yunet.frame_index.isin(HIDDEN)) & (yunet.score >= 0.5) & (yunet.x < 450)).any(), \
        "the detectors really lose the big face while it is hidden"


def test_without_tracks_those_frames_are_exposed(occluded_run):
    work, cfg, gt = occluded_run
    off = {**cfg, "merge": {**cfg["merge"], "temporal": {**cfg["merge"]["temporal"], "enabled": False}}}
    jobs = dry_run_jobs(work, off)
    assert "merge_regions" in jobs and "detect_yunet" not in jobs and "index_frames" not in jobs
    run_snakemake(work, off, ["--allowed-rules", "merge_regions", "--", "results/toy/regions.parquet"])
    cov, _ = coverage(work, gt)
    assert set(cov[cov < 0.8].index) == set(HIDDEN)


def test_chunked_run_is_identical_and_covers_the_border(occluded_run, tmp_path):
    """Two chunks split the video at frame 12, inside the hidden stretch (10-13): each chunk is detected and
    blurred by its own jobs, temporal coverage still bridges the border, and every output is identical."""
    work, cfg, gt = occluded_run
    run_snakemake(work, cfg)  # the unchunked results as the default config makes them (another test changes them)
    chunked = {**cfg, "frames": {**cfg["frames"], "chunks": 2}}
    proc = run_snakemake(tmp_path, chunked, ["--printshellcmds"])
    log = proc.stdout + proc.stderr
    for rule in ("detect_yunet", "detect_retinaface", "blur_frames"):
        assert log.count(f"rule {rule}:") == 2, f"{rule} ran once per chunk"
    one, two = work / "results" / "toy", tmp_path / "results" / "toy"
    pd.testing.assert_frame_equal(pd.read_parquet(one / "regions.parquet"), pd.read_parquet(two / "regions.parquet"))
    for table in ("yunet", "retinaface_all"):
        pd.testing.assert_frame_equal(pd.read_parquet(one / "detections" / f"{table}.parquet"),
                                      pd.read_parquet(two / "detections" / f"{table}.parquet"))
    assert (one / "toy.deid.mp4").read_bytes() == (two / "toy.deid.mp4").read_bytes()
    cov, _ = coverage(tmp_path, gt)
    assert (cov >= 0.8).all(), cov[cov < 0.8]
    assert not (two / "work").exists() or not any((two / "work").iterdir()), "blurred chunks are removed"
    assert not list((two / "detections").glob("chunks/*.parquet")), "chunk tables are temporary"
    problems, _ = verify_manifest(two / "manifest.json")
    assert problems == []


def test_occluder_scene_of_real_faces(tmp_path, models_dir):
    """btb.evaluation.synthetic's ``syn_occluder``: two real face photographs, a bar sweeping over the smaller
    one twice while it rocks through ±35° of roll; YuNet and RetinaFace at the defaults on the encoded clip.
    No labeled face is exposed in any frame, and no region lies far from both faces (a track that jumped, or a
    box filled between two faces, would)."""
    import numpy as np

    from btb.config import defaults
    from btb.detect.factory import make_detector
    from btb.detect.registry import DETECTORS
    from btb.evaluation.methods import read_video_gt
    from btb.evaluation.synthetic import write_scene
    from btb.regions.merge import MergeParams, merge_detections, temporal_params
    from btb.regions.tables import concat_detections, detections_frame
    from btb.video.frames import iter_normalised

    video, gt_path = write_scene("syn_occluder", tmp_path)
    gt = read_video_gt(gt_path)
    cfg = defaults()
    tables, n = {}, 0
    for name in ("yunet", "retinaface"):
        det = make_detector(name, DETECTORS[name].model_path(str(models_dir), cfg["detect"][name]),
                            cfg["detect"][name], 1, "cpu")
        parts = []
        for frame in iter_normalised(video):
            d = det.detect(frame.image)
            parts.append(detections_frame(frame.index, name, d.boxes, d.scores, d.landmarks, d.scale))
            n = max(n, frame.index + 1)
        tables[name] = concat_detections(parts)
    regions = merge_detections(tables, MergeParams.from_config(cfg["merge"]), 640, 360,
                               temporal_params(cfg["merge"]), n)
    cov = face_coverages(gt, regions, 360, 640)
    assert (cov["coverage"] >= 0.8).all(), cov[cov["coverage"] < 0.8]
    for r in regions.itertuples():
        faces = gt[gt.frame_index == r.frame_index]
        centre = np.array([r.x + r.w / 2, r.y + r.h / 2])
        near = min(np.linalg.norm(centre - [f.x + f.w / 2, f.y + f.h / 2]) / max(f.w, f.h) for f in faces.itertuples())
        assert near <= 1.5, f"region {r} lies far from both faces"
