"""The evaluate target end to end on a tiny labeled set the test builds itself (real detectors)."""

from __future__ import annotations

import json

import cv2
import numpy as np
import pytest
from conftest import run_snakemake, workflow_config

from btb.video.demo import demo_frames, demo_ground_truth, write_demo_video

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def eval_run(tmp_path_factory, models_dir):
    from skimage import data

    work = tmp_path_factory.mktemp("evaluate")
    # images in the WIDER FACE layout: the astronaut photo and one demo frame (two faces)
    img_dir = work / "wider" / "images" / "0--Demo"
    img_dir.mkdir(parents=True)
    cv2.imwrite(str(img_dir / "astronaut.jpg"), cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR))
    cv2.imwrite(str(img_dir / "scene.png"), demo_frames(n_frames=24)[5])
    scene = [r for r in demo_ground_truth(24) if r[0] == 5]
    lines = ["0--Demo/astronaut.jpg", "1", "178 63 90 113 0 0 0 0 0 0", "0--Demo/scene.png", str(len(scene))]
    lines += [f"{round(x)} {round(y)} {round(w)} {round(h)} 0 0 0 0 0 0" for _, x, y, w, h in scene]
    (work / "wider" / "gt.txt").write_text("\n".join(lines) + "\n")
    # a labeled clip
    vids = work / "videos"
    write_demo_video(vids / "demo_clip.mp4", fps=12, seconds=2.0)
    rows = ["frame_index,x,y,w,h,labeled"] + [f"{i},{x:.1f},{y:.1f},{w:.1f},{h:.1f},1"
                                             for i, x, y, w, h in demo_ground_truth(24)]
    (vids / "demo_clip_gt.csv").write_text("\n".join(rows) + "\n")
    cfg = workflow_config(models_dir, "")  # no videos to de-identify: the evaluate target only
    cfg["evaluate"] = {"image_sets": [{"name": "tiny", "images": str(work / "wider" / "images"),
                                       "gt": str(work / "wider" / "gt.txt")}],
                       "video_dir": str(vids)}
    run_snakemake(work, cfg, ["evaluate"])
    return work


def test_metrics_for_every_method(eval_run):
    videos = json.loads((eval_run / "results" / "eval" / "videos" / "metrics.json").read_text())
    figs = videos["groups"]["demo_*"]
    assert set(figs) >= {"yunet", "retinaface", "union", "cascade", "intersection"}
    assert figs["union"]["labeled_faces"] == 48
    assert figs["union"]["recall_at_0_8"] == 1.0 and figs["union"]["exposed_frames"] == 0
    assert 1.0 < figs["union"]["blur_area_ratio"] < 3.0
    images = json.loads((eval_run / "results" / "eval" / "tiny" / "metrics.json").read_text())
    u = images["methods"]["union"]
    assert u["all"]["recall_at_0_8"] == 1.0 and u["seed_accuracy"] == 1.0
    assert images["ap"]["yunet"]["all"]["ap"] > 0.9
    assert {"detect_yunet", "detect_retinaface", "merge", "blur_union"} <= set(images["seconds_per_image"])
    assert [b["faces"] for b in u["recall_by_size"]] == [0, 0, 3, 0]  # shorter sides 90, 74 and 40 px
    assert any(row["detector"] == "yunet" and row["threshold"] == 0.9 for row in images["sweep"])


def test_report_and_plots_without_faces(eval_run, models_dir):
    from btb.detect.factory import make_detector

    report = (eval_run / "results" / "eval" / "report.md").read_text()
    assert "The seed study's table" in report and "WIDER AP" in report and "Threshold sweep" in report
    plots = sorted((eval_run / "results" / "eval" / "plots").glob("*.png"))
    assert {p.name for p in plots} == {"pr_tiny.png", "size_tiny.png", "timeline_demo_all.png"}
    detectors = [
        make_detector("yunet", str(models_dir / "face_detection_yunet_2023mar.onnx"),
                      {"score_floor": 0.3, "nms_iou": 0.3, "downscaled_long_side": 320}, 1, "cpu"),
        make_detector("retinaface", str(models_dir / "retinaface_mnv2_floor0.05.onnx"),
                      {"backbone": "mobilenetv2", "score_floor": 0.05, "downscaled_long_side": 480}, 1, "cpu"),
    ]
    for p in plots:
        image = cv2.imread(str(p))
        assert image is not None and image.shape[0] > 100
        for d in detectors:
            found = d.detect(image)
            assert not (found.scores >= 0.5).any(), f"{p.name} looks like it shows a face"
    assert json.loads((eval_run / "results" / "eval" / "report.json").read_text())["results"]
    assert np.isfinite(json.loads((eval_run / "results" / "eval" / "tiny" / "metrics.json").read_text())
                       ["methods"]["union"]["all"]["blur_area_ratio"])
