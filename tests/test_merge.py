import numpy as np
import pandas as pd
import pytest
from conftest import merge_params

from btb.regions.merge import merge_detections
from btb.regions.tables import REGION_COLUMNS, detections_frame, empty_detections


def det(name, rows):
    """rows: (frame, x, y, w, h, score)"""
    parts = [
        detections_frame(f, name, np.array([[x, y, w, h]], float), np.array([s]), np.zeros((1, 10)))
        for f, x, y, w, h, s in rows
    ]
    return pd.concat(parts, ignore_index=True) if parts else empty_detections()


PARAMS = dict(thresholds={"yunet": 0.5, "retinaface": 0.2}, enlarge=1.0, shape="box")


def test_union_thresholds_each_detector_and_fuses_duplicates():
    y = det("yunet", [(0, 10, 10, 20, 20, 0.9), (0, 100, 100, 20, 20, 0.4)])  # second below 0.5
    r = det("retinaface", [(0, 12, 10, 20, 20, 0.3), (1, 50, 50, 10, 10, 0.25)])
    out = merge_detections({"yunet": y, "retinaface": r}, merge_params("union", **PARAMS), 200, 200)
    assert list(out.columns) == list(REGION_COLUMNS)
    f0 = out[out.frame_index == 0]
    assert len(f0) == 1  # the two overlapping boxes became one enclosing region
    assert f0[["x", "y", "w", "h"]].values.tolist() == [[10, 10, 22, 20]]
    assert f0["source"].item() == "retinaface+yunet"
    assert out[out.frame_index == 1]["source"].tolist() == ["retinaface"]
    assert out["region_id"].tolist() == list(range(len(out)))


def test_intersection_needs_both_detectors():
    y = det("yunet", [(0, 10, 10, 20, 20, 0.9), (0, 100, 100, 20, 20, 0.9)])
    r = det("retinaface", [(0, 11, 11, 20, 20, 0.9)])
    out = merge_detections({"yunet": y, "retinaface": r}, merge_params("intersection", **PARAMS), 200, 200)
    assert len(out) == 1 and out["x"].item() == 10


def test_cascade_merges_like_union():
    y = det("yunet", [(0, 10, 10, 20, 20, 0.9)])
    r = det("retinaface", [(3, 40, 40, 20, 20, 0.9)])
    u = merge_detections({"yunet": y, "retinaface": r}, merge_params("union", **PARAMS), 200, 200)
    c = merge_detections({"yunet": y, "retinaface": r}, merge_params("cascade", **PARAMS), 200, 200)
    pd.testing.assert_frame_equal(u, c)


def test_enlarge_and_clip_at_frame_edge():
    y = det("yunet", [(0, 0, 0, 20, 10, 0.9)])
    out = merge_detections({"yunet": y}, merge_params("union", thresholds={"yunet": 0.5}, enlarge=2.0,
                                                     shape="ellipse"), 25, 25)
    assert out[["x", "y", "w", "h"]].values.tolist() == [[0, 0, 25, 15]]  # -10..30 x -5..15, clipped
    assert out["shape"].tolist() == ["ellipse"]


def test_no_detections_gives_empty_typed_table():
    out = merge_detections({"yunet": empty_detections()}, merge_params("union", thresholds={"yunet": 0.5}),
                           10, 10)
    assert out.empty and list(out.columns) == list(REGION_COLUMNS)


def test_unknown_mode_rejected():
    with pytest.raises(ValueError, match="merge mode"):
        merge_params("vote", thresholds={})


def test_intersection_of_three_keeps_boxes_another_detector_confirms():
    y = det("yunet", [(0, 10, 10, 20, 20, 0.9), (0, 100, 100, 20, 20, 0.9)])
    r = det("retinaface", [(0, 150, 150, 20, 20, 0.9)])  # alone: dropped
    c = det("centerface", [(0, 101, 101, 20, 20, 0.9), (0, 60, 60, 20, 20, 0.9)])  # confirms YuNet's second box
    thresholds = {"yunet": 0.5, "retinaface": 0.2, "centerface": 0.2}
    out = merge_detections({"yunet": y, "retinaface": r, "centerface": c},
                           merge_params("intersection", thresholds=thresholds, enlarge=1.0, shape="box"),
                           200, 200)
    assert out[["x", "y", "w", "h"]].values.tolist() == [[100, 100, 21, 21]]
    assert out["source"].tolist() == ["centerface+yunet"]


def test_union_of_three_fuses_across_detectors():
    y = det("yunet", [(0, 10, 10, 20, 20, 0.9)])
    r = det("retinaface", [(0, 11, 10, 20, 20, 0.3)])
    c = det("centerface", [(0, 9, 8, 22, 24, 0.25), (0, 120, 40, 30, 30, 0.1)])  # second below 0.2
    thresholds = {"yunet": 0.5, "retinaface": 0.2, "centerface": 0.2}
    out = merge_detections({"yunet": y, "retinaface": r, "centerface": c},
                           merge_params("union", thresholds=thresholds, enlarge=1.0, shape="box"), 200, 200)
    assert out[["x", "y", "w", "h"]].values.tolist() == [[9, 8, 22, 24]]
    assert out["source"].tolist() == ["centerface+retinaface+yunet"]
