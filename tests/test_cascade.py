import numpy as np
import pandas as pd

from btb.regions.cascade import CascadeRule, select_uncertain_frames


def table(rows):
    return pd.DataFrame(rows, columns=["frame_index", "score"])


RULE = CascadeRule(threshold=0.5, uncertain_floor=0.3, neighbours=0)


def test_reasons():
    # frame 0: confident; 1: nothing; 2: confident + low candidate; 3,4: two confident; 5: one confident
    y = table([(0, 0.9), (2, 0.9), (2, 0.35), (3, 0.9), (3, 0.8), (4, 0.9), (4, 0.9), (5, 0.9)])
    sel = select_uncertain_frames(y, 6, RULE)
    got = dict(zip(sel.frame_index, sel.reason, strict=True))
    # frame 2 both changes count and has a low candidate: the first reason in REASONS order is recorded
    assert got == {0: "count_change", 1: "no_face", 2: "low_confidence", 3: "count_change", 4: "count_change",
                   5: "count_change"}


def test_low_confidence_without_count_change():
    y = table([(0, 0.9), (1, 0.9), (1, 0.4), (2, 0.9)])
    sel = select_uncertain_frames(y, 3, RULE)
    assert sel.to_dict("list") == {"frame_index": [1], "reason": ["low_confidence"]}


def test_neighbours_are_added():
    y = table([(i, 0.9) for i in range(10) if i != 5])
    sel = select_uncertain_frames(y, 10, CascadeRule(0.5, 0.3, neighbours=2))
    assert sel.frame_index.tolist() == [2, 3, 4, 5, 6, 7, 8]
    # frames 4 and 6 change count; 5 has no face; the rest are neighbours
    assert dict(zip(sel.frame_index, sel.reason, strict=True))[5] == "no_face"
    assert dict(zip(sel.frame_index, sel.reason, strict=True))[2] == "neighbour"


def test_video_without_faces_sends_every_frame():
    sel = select_uncertain_frames(table([]).astype({"frame_index": int, "score": float}), 4, RULE)
    assert sel.frame_index.tolist() == [0, 1, 2, 3] and set(sel.reason) == {"no_face"}


def test_steady_confident_video_sends_nothing():
    y = table([(i, 0.95) for i in range(20)])
    assert select_uncertain_frames(y, 20, RULE).empty
    assert np.issubdtype(select_uncertain_frames(y, 20, RULE).frame_index.dtype, np.integer)


def test_clips_shorter_than_the_neighbourhood():
    for n in (1, 2, 3, 4):
        sel = select_uncertain_frames(table([]).astype({"frame_index": int, "score": float}), n,
                                      CascadeRule(0.5, 0.3, neighbours=2))
        assert sel.frame_index.tolist() == list(range(n))
    y = table([(0, 0.9), (1, 0.9), (2, 0.9)])
    assert select_uncertain_frames(y, 3, CascadeRule(0.5, 0.3, neighbours=2)).empty
