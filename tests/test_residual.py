"""Residual verification's flag rules, sampled verification included (no detector: synthetic detections)."""

import numpy as np
import pandas as pd
import pytest

from btb.detect.base import RawDetections
from btb.release.residual import ResidualParams, flags_in_frame, flags_table, input_flags_in_frame, verdict

P = ResidualParams(thresholds={"yunet": 0.4, "retinaface": 0.15}, min_covered=0.5, every=1)
REGION = pd.DataFrame({"frame_index": [3], "region_id": [0], "x": [10], "y": [10], "w": [40], "h": [40],
                       "shape": ["box"], "source": ["yunet"], "score": [0.9], "track_id": [0]})


def raw(boxes, scores):
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    return RawDetections(boxes=boxes, scores=np.asarray(scores, dtype=np.float64),
                         landmarks=np.zeros((len(boxes), 10)), scale=np.ones(len(boxes)))


def stored(rows):
    return pd.DataFrame(rows, columns=["frame_index", "x", "y", "w", "h", "score"])


def test_output_detection_outside_the_blur_is_a_flag():
    found = {"yunet": raw([[12, 12, 30, 30], [70, 10, 20, 20]], [0.9, 0.9]),
             "retinaface": raw([[70, 10, 20, 20]], [0.1])}  # below its verification threshold
    rows = flags_in_frame(3, (100, 100, 3), REGION, found, P)
    assert [(r[1], r[3]) for r in rows] == [("yunet", 70.0)], "the covered face and the weak one are no flags"


def test_stored_input_detections_are_checked_against_the_blur():
    st = {"yunet": stored([[3, 12, 12, 30, 30, 0.45], [3, 70, 10, 20, 20, 0.45], [3, 70, 60, 20, 20, 0.3]]),
          "retinaface": stored([[3, 40, 40, 30, 30, 0.5]])}  # 10x10 of 30x30 covered: 0.11
    rows = input_flags_in_frame(3, (100, 100, 3), REGION, st, P)
    got = sorted((r[1], r[3], round(r[7], 2)) for r in rows)
    assert got == [("retinaface:input", 40.0, 0.11), ("yunet:input", 70.0, 0.0)]
    assert input_flags_in_frame(3, (100, 100, 3), REGION, {"yunet": stored([])}, P) == []


def test_every_selects_output_frames_and_is_recorded():
    p = ResidualParams(thresholds={"yunet": 0.4}, min_covered=0.5, every=5)
    assert [f for f in range(12) if p.detects(f)] == [0, 5, 10]
    v = verdict(flags_table([(7, "yunet:input", 0.45, 1.0, 2.0, 3.0, 4.0, 0.0, float("nan"))]), 12, 3, 5)
    assert v["verdict"] == "needs_review" and v["frames_checked"] == 12 and v["frames_detected"] == 3
    assert v["every"] == 5 and v["by_detector"] == {"yunet:input": 1}
    assert verdict(flags_table([]), 12)["frames_detected"] == 12
    with pytest.raises(ValueError, match="every"):
        ResidualParams(thresholds={"yunet": 0.4}, min_covered=0.5, every=0)


def test_stored_tables_split_by_frame_in_one_pass():
    from btb.release.residual import stored_by_frame

    table = stored([[5, 1, 1, 2, 2, 0.9], [3, 4, 4, 2, 2, 0.8], [5, 7, 7, 2, 2, 0.7]])
    split = stored_by_frame(table)
    assert sorted(split) == [3, 5] and split[5].scores.tolist() == [0.9, 0.7] and split[5].landmarks is None
    assert split[3].boxes.tolist() == [[4, 4, 2, 2]] and stored_by_frame(stored([])) == {}
    st = {"yunet": split[3]}
    assert input_flags_in_frame(3, (100, 100, 3), REGION, st, P) == input_flags_in_frame(
        3, (100, 100, 3), REGION, {"yunet": table[table["frame_index"] == 3]}, P)
