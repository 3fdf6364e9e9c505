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


def _motion_frames(step: float, n: int = 12, blur: int = 41):
    """The demo's face photograph crossing a plain background at ``step`` px a frame, smeared by ``blur`` px."""
    import cv2

    from btb.evaluation.synthetic import _background, paste_face

    frames, boxes = [], []
    for i in range(n):
        img = _background().copy()
        boxes.append(paste_face(img, 0.6, (120.0 + step * i, 180.0)))
        frames.append(cv2.filter2D(img, -1, np.full((1, blur), 1.0 / blur, np.float32)) if blur > 1 else img)
    return frames, np.array(boxes)


def _run_motion(frames, masks=None, explained=None):
    from btb.release.motion import MotionCheck, MotionParams

    check = MotionCheck(MotionParams(min_speed=0.08, min_size=0.15))
    rows = []
    for i, img in enumerate(frames):
        mask = masks[i] if masks is not None else np.zeros(img.shape[:2], bool)
        rows += check.step(i, img, mask, explained[i] if explained is not None else np.zeros((0, 4)))
    return rows


def test_a_face_too_fast_for_the_detectors_is_a_motion_flag_on_it():
    """A face crossing at 40 px a frame with a 41 px smear (no detector here finds it: docs/review.md) raises a
    ``motion`` flag on the face in every frame after the first; the same face still, or drifting at 4 px a
    frame, raises none."""
    from btb.evaluation.catch import on_face

    frames, boxes = _motion_frames(40.0)
    rows = _run_motion(frames)
    assert {r[1] for r in rows} == {"motion"}
    for i in range(1, len(frames)):
        mine = np.array([r[3:7] for r in rows if r[0] == i]).reshape(-1, 4)
        assert len(mine) and on_face(boxes[i], mine).any(), f"frame {i}: no flag on the face"
    assert rows[0][0] == 1 and all(0.08 <= r[2] <= 0.2 for r in rows), "speed in frame heights per frame"
    assert _run_motion(_motion_frames(0.0)[0]) == []
    assert _run_motion(_motion_frames(4.0, blur=1)[0]) == []


def test_motion_under_the_blur_or_on_a_checked_detection_is_no_flag():
    frames, boxes = _motion_frames(40.0)
    h, w = frames[0].shape[:2]
    masks = []
    for i in range(len(frames)):  # the blur covers the whole path of the moving photograph
        m = np.zeros((h, w), bool)
        m[100:300, max(0, 40 + 40 * (i - 1) - 60):min(w, 200 + 40 * i + 60)] = True
        masks.append(m)
    assert _run_motion(frames, masks=masks) == []
    wide = [np.array([[0.0, 0.0, w, h]]) for _ in frames]  # a checked detection over it: its own flag's business
    assert _run_motion(frames, explained=wide) == []
    # a cut: every pixel changes, the flow says nothing about where a face is
    cut = [frames[0], 255 - frames[0]]
    assert _run_motion(cut) == []
    from btb.release.motion import MotionParams

    with pytest.raises(ValueError, match="min_speed"):
        MotionParams(min_speed=0.0, min_size=0.15)


def test_a_motion_flag_on_an_arm_is_set_aside_and_one_on_an_open_head_is_kept():
    from btb.detect.pose import Person
    from btb.release.residual import explain_motion

    lm = np.zeros((33, 4))
    lm[:, 2] = 1.0
    lm[:11, :2] = [60, 20]  # head landmarks around (60, 20)
    lm[11:, :2] = np.column_stack([np.linspace(30, 90, 22), np.linspace(40, 190, 22)])  # body below
    person = Person(0.9, 0.9, lm, head=np.array([50.0, 10, 20, 20]), hands=np.array([[0.0, 0, 0, 0]] * 2))
    nothing = np.zeros((200, 200), bool)
    assert explain_motion((40, 120, 40, 50), [person], nothing) == "body", "on the body, no head in it"
    assert explain_motion((40, 0, 40, 50), [person], nothing) == "on_head", "the head's features show"
    blurred = nothing.copy()
    blurred[0:40, 40:80] = True
    assert explain_motion((40, 0, 40, 50), [person], blurred) == "body", "the head in it is blurred"
    assert explain_motion((150, 0, 40, 40), [person], nothing) == "", "on no one"
    waving = Person(0.9, 0.9, lm, head=np.array([50.0, 10, 20, 20]), hands=np.array([[160.0, 10, 20, 20]] * 2))
    assert explain_motion((150, 0, 40, 40), [waving], nothing) == "hand"
    unseen = lm.copy()
    unseen[15:23, 2] = 0.1  # the hand points the locator does not see: their box explains nothing
    hidden_hands = Person(0.9, 0.9, unseen, head=np.array([50.0, 10, 20, 20]),
                          hands=np.array([[160.0, 10, 20, 20]] * 2))
    assert explain_motion((150, 0, 40, 40), [hidden_hands], nothing) == ""


def test_motion_check_ignores_degenerate_detection_boxes():
    """A detector can return a non-finite box on a tiny or odd frame (seen on a 32x32 clip): it marks nothing."""
    frames, _ = _motion_frames(40.0, n=3)
    bad = [np.array([[np.inf, 0.0, np.nan, 5.0], [-np.inf, 1.0, 2.0, np.inf]])] * 3
    assert len(_run_motion(frames, explained=bad)) == len(_run_motion(frames)) > 0
    tiny = [np.full((32, 32, 3), v, np.uint8) for v in (0, 255, 0)]
    assert _run_motion(tiny, explained=bad) == []
    assert _run_motion([np.zeros((8, 8, 3), np.uint8), np.full((8, 8, 3), 255, np.uint8)]) == [], "too small for DIS"


def test_no_motion_flag_across_a_cut_between_two_dark_shots():
    """A cut between two dark shots of another hue (grey levels barely change, so the change test alone does not
    see it), the face in another place: no motion flag; the same pair within one shot (same hue) raises one."""
    from btb.evaluation.synthetic import paste_face

    def pair(second):
        frames = []
        for colour, x in (((40, 10, 10), 120.0), (second, 160.0)):
            img = np.zeros((360, 640, 3), np.uint8)
            img[:] = colour
            paste_face(img, 0.6, (x, 180.0))
            frames.append(img)
        return frames

    assert [r[0] for r in _run_motion(pair((40, 10, 10)))] == [1]
    assert _run_motion(pair((10, 10, 30))) == []
