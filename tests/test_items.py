"""Review items: flags linked across frames into what a reviewer decides once, and what is set aside, why."""

import math

import numpy as np
import pandas as pd

from btb.release.items import ItemParams, frame_seconds, mmss, review_items
from btb.release.residual import features_covered, flags_table, verdict

P = ItemParams(link_gap_s=1.0, link_iou=0.1, link_distance=1.0, min_face_px=10, dismiss_features_blurred=True)
TIMES = {i: i / 10 for i in range(200)}  # 10 fps


def flag(frame, x, y, w=40, h=40, detector="yunet", score=0.6, covered=0.0, feat=0.0):
    return (frame, detector, score, x, y, w, h, covered, feat)


def test_a_moving_face_over_many_frames_is_one_item_with_its_time_range():
    rows = [flag(f, 100 + 8 * f, 50) for f in range(30)]  # 8 px a frame: a fast move, still one face
    rows += [flag(f, 102 + 8 * f, 52, detector="retinaface", score=0.3) for f in range(0, 30, 2)]
    rows += [flag(f, 400, 200) for f in range(5, 9)]  # another face, elsewhere
    rows += [flag(f, 100, 50) for f in (120, 121)]  # the first place again, 9 s later: a new item
    items, flags = review_items(flags_table(rows), TIMES, P)
    assert items["item"].tolist() == [1, 2, 3]
    first = items.iloc[0]
    assert (first.first_frame, first.last_frame, first.frames, first["flags"]) == (0, 29, 30, 45)
    assert (first.start, first.end, first.detectors) == ("00:00.0", "00:02.9", "retinaface,yunet")
    assert items.iloc[1].first_frame == 5 and items.iloc[2].first_frame == 120
    assert set(flags["item"]) == {1, 2, 3} and (items["status"] == "open").all()
    assert verdict(flags, 200, items=items)["verdict"] == "needs_review"


def test_blurred_face_found_again_and_tiny_boxes_are_dismissed_with_the_reason():
    rows = [flag(f, 100, 50, covered=0.4, feat=1.0) for f in range(10)]  # features all under the blur
    rows += [flag(f, 300, 50, w=8, h=8) for f in range(10)]  # 8 px: too small to identify
    rows += [flag(f, 500, 50, covered=0.4, feat=0.6) for f in range(3)]  # an eye shows: open
    items, flags = review_items(flags_table(rows), TIMES, P)
    assert items[["status", "reason"]].values.tolist() == [
        ["dismissed", "features_blurred"], ["dismissed", "too_small"], ["open", ""]]
    v = verdict(flags, 200, items=items)
    assert v["verdict"] == "needs_review" and v["items"] == 1 and v["items_dismissed"] == 2
    assert v["dismissed_by_reason"] == {"features_blurred": 1, "too_small": 1}
    # one open flag keeps the whole item open
    items, _ = review_items(flags_table(rows[:10] + [flag(10, 100, 50, covered=0.4, feat=0.8)]), TIMES, P)
    assert items["status"].tolist() == ["open"]
    # dismissing can be turned off
    strict = ItemParams(1.0, 0.1, 1.0, 0, False)
    items, _ = review_items(flags_table(rows), TIMES, strict)
    assert (items["status"] == "open").all()
    assert verdict(flags_table([]), 5, items=review_items(flags_table([]), TIMES, P)[0])["verdict"] == "pass"


def test_only_dismissed_items_pass():
    items, flags = review_items(flags_table([flag(0, 10, 10, w=6, h=6)]), {0: 0.0}, P)
    assert verdict(flags, 1, items=items)["verdict"] == "pass"


def test_features_covered_counts_landmarks_on_blurred_pixels():
    mask = np.zeros((100, 100), dtype=bool)
    mask[20:60, 20:60] = True
    inside = [30, 30, 50, 30, 40, 40, 32, 50, 48, 50]
    assert features_covered(np.array(inside), mask) == 1.0
    one_eye_out = [10, 30, *inside[2:]]
    assert features_covered(np.array(one_eye_out), mask) == 0.8
    assert features_covered(np.array([150, 30, *inside[2:]]), mask) == 1.0, "off the frame shows nothing"
    assert math.isnan(features_covered(np.zeros(10), mask))


def test_time_formats():
    assert mmss(0) == "00:00.0" and mmss(75.25) == "01:15.2" and mmss(3725) == "1:02:05.0"
    table = pd.DataFrame({"frame_index": [0, 1, 2], "pts_time": [1.5, 1.6, 1.7]})
    assert frame_seconds(table) == {0: 0.0, 1: 0.1 - 0 + (1.6 - 1.5 - 0.1), 2: 1.7 - 1.5}


def test_exposed_faces_are_caught_set_aside_or_missed():
    """The catch rate: an open item on an exposed labeled face catches it; only a dismissed one sets it aside
    (with its reason); none is a silent leak."""
    from btb.evaluation.catch import exposures, summarise_catch

    gt = pd.DataFrame({"frame_index": [0, 1, 2, 3, 4], "x": [10, 10, 10, 200, 300], "y": [10] * 5,
                       "w": [40] * 5, "h": [40] * 5, "labeled": [1] * 5})
    regions = pd.DataFrame({"frame_index": [0], "region_id": [0], "x": [10], "y": [10], "w": [40],
                            "h": [40], "shape": ["box"], "source": ["yunet"], "score": [0.9],
                            "track_id": [0]})  # frame 0: covered, not exposed
    rows = [flag(1, 14, 12), flag(2, 12, 12),  # an open item on frames 1-2
            flag(3, 205, 12, covered=0.4, feat=1.0)]  # a dismissed one on frame 3; frame 4: nothing
    items, flags = review_items(flags_table(rows), TIMES, P)
    out = exposures(gt, regions, flags, items, TIMES, 100, 400)
    assert out["outcome"].tolist() == ["caught", "caught", "set_aside", "missed"]
    assert out["reason"].tolist()[2] == "features_blurred"
    s = summarise_catch(out, items, seconds=30.0)
    assert (s["exposed_frames"], s["caught_frames"], s["set_aside_frames"], s["missed_frames"]) == (4, 2, 1, 1)
    assert s["missed"] == [4] and s["open_items"] == 1 and s["open_items_per_minute"] == 2.0


def test_brief_weak_items_off_any_head_are_set_aside_as_weak():
    """No detector sure of a face at any moment, on no located head, for at most weak_max_frames frames: weak.
    A confident flag, a longer run, or a flag on a head the locator places keeps the item open."""
    weak = ItemParams(1.0, 0.1, 1.0, 10, True, weak_max_frames=3, confident={"yunet": 0.5, "retinaface": 0.2})
    rows = [flag(f, 100, 50, score=0.45) for f in range(3)]  # brief, below YuNet's 0.5
    rows += [flag(f, 300, 50, detector="retinaface", score=0.18) for f in range(6)]  # six frames: too long
    rows += [flag(0, 500, 50, score=0.55)]  # one frame, but confident
    rows += [(0, "yunet", 0.45, 500.0, 250.0, 40.0, 40.0, 0.0, 0.0, "on_head")]  # on a located head
    rows += [flag(0, 500, 400, detector="pose", score=0.45)]  # the head locator's own flag
    items, flags = review_items(flags_table(rows), TIMES, weak)
    by_place = {(int(r.x), int(r.y)): (r.status, r.reason) for r in items.itertuples()}
    assert by_place == {(100, 50): ("dismissed", "weak"), (300, 50): ("open", ""), (500, 50): ("open", ""),
                        (500, 250): ("open", ""), (500, 400): ("open", "")}
    weak_item = items.loc[items["reason"] == "weak", "item"].iloc[0]
    assert (flags.loc[flags["item"] == weak_item, "reason"] == "weak").all()
    items, _ = review_items(flags_table(rows), TIMES, P)
    assert (items["status"] == "open").all(), "off by default in ItemParams"


def test_two_faces_side_by_side_are_two_items():
    """Two flags of one detector on one frame are two faces, however close; the other detector's box on the
    same face joins its item."""
    rows = [flag(f, 100, 50) for f in range(5)] + [flag(f, 135, 50) for f in range(5)]  # 35 px apart
    rows += [flag(f, 102, 52, detector="retinaface", score=0.3) for f in range(5)]
    items, flags = review_items(flags_table(rows), TIMES, P)
    assert len(items) == 2 and sorted(items["flags"].tolist()) == [5, 10]


def hand_rows(explained: dict[int, str], frames=range(10), x=300.0):
    """One box on ``frames``, explained as a hand except where ``explained`` says otherwise."""
    return [(f, "yunet", 0.6, x, 200.0, 100.0, 150.0, 0.3, 0.0, explained.get(f, "hand")) for f in frames]


def test_a_flag_between_hand_flags_on_the_same_box_is_a_hand():
    """The head locator lost the hand for a frame: the flag between hand flags on the same box is set aside
    as ``hand_track``. One at the end of the run (no hand after it), one on a located head, or one whose box
    has moved off the hand's keeps its item open."""
    items, flags = review_items(flags_table(hand_rows({4: "", 5: ""})), TIMES, P)
    assert items[["status", "reason"]].values.tolist() == [["dismissed", "hand,hand_track"]]
    assert flags.loc[flags["frame_index"].isin([4, 5]), "reason"].tolist() == ["hand_track"] * 2
    for explained in ({9: ""}, {5: "on_head"}):
        items, _ = review_items(flags_table(hand_rows(explained)), TIMES, P)
        assert items["status"].tolist() == ["open"], explained
    moved = hand_rows({})
    moved[5] = (5, "yunet", 0.6, 360.0, 200.0, 100.0, 150.0, 0.3, 0.0, "")  # IoU 0.25 with its neighbours
    items, _ = review_items(flags_table(moved), TIMES, P)
    assert items["status"].tolist() == ["open"]


def test_a_small_box_is_not_linked_by_distance_to_a_large_one():
    """A 28 px flag and a 330 px flag whose centres are within a box size: two things, two items."""
    rows = [flag(0, 1263, 665, w=28, h=42, detector="retinaface", score=0.15),
            flag(5, 875, 500, w=331, h=422, score=0.74)]
    items, _ = review_items(flags_table(rows), TIMES, P)
    assert len(items) == 2
    rows = [flag(0, 100, 100, w=40, h=40), flag(5, 130, 100, w=60, h=60)]  # within the size ratio: one item
    items, _ = review_items(flags_table(rows), TIMES, P)
    assert len(items) == 1


def test_review_load_counts_open_items_per_minute(tmp_path):
    """benchmarks/review_load.py: open items of each verified video, summed by id prefix, per minute."""
    import json
    import subprocess
    import sys
    from pathlib import Path

    for vid, statuses, seconds in (("u_a", ["open", "dismissed", "open"], 30.0), ("u_b", ["open"], 30.0),
                                   ("i_c", ["dismissed"], 60.0)):
        rows = [(i + 1, s, "weak,hand" if s == "dismissed" else "", "yunet") for i, s in enumerate(statuses)]
        (tmp_path / vid / "verification").mkdir(parents=True)
        pd.DataFrame(rows, columns=["item", "status", "reason", "detectors"]).to_csv(
            tmp_path / vid / "verification" / "review_items.tsv", sep="\t", index=False)
        (tmp_path / vid / "probe.json").write_text(json.dumps({"duration_s": seconds}))
    (tmp_path / "release").mkdir()  # not a video folder: skipped
    out = tmp_path / "load.json"
    script = Path(__file__).resolve().parents[1] / "benchmarks" / "review_load.py"
    subprocess.run([sys.executable, str(script), "--results", str(tmp_path), "--group", "u_", "i_", "--out",
                    str(out)], check=True, capture_output=True)
    load = json.loads(out.read_text())
    assert load["groups"]["u_"] == {"videos": 2, "seconds": 60.0, "open_items": 3, "open_items_per_minute": 3.0,
                                    "most_open_items_in_one_video": 2}
    assert load["groups"]["i_"]["open_items"] == 0
    assert load["videos"]["i_c"]["dismissed_reasons"] == {"hand": 1, "weak": 1}
