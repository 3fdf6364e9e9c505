"""WIDER FACE evaluation (btb.evaluation.wider) against tiny hand-computed synthetic cases; no real data."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from btb.evaluation.wider import (
    GT_FIELDS,
    image_stem,
    read_difficulty_lists,
    read_keep_list,
    read_wider_gt,
    recall_by_size,
    regions_touching_no_face,
    score_images,
    seed_accuracy,
    valid_faces,
)
from btb.evaluation.wider_ap import image_eval, voc_ap, wider_ap, wider_iou
from btb.regions.tables import REGION_COLUMNS

GT_TEXT = """\
0--Parade/0_Parade_a_1.jpg
2
10 20 30 40 1 0 0 0 0 0 
50 60 8 9 2 1 0 1 2 0 
0--Parade/0_Parade_empty_2.jpg
0
0 0 0 0 0 0 0 0 0 0 
4--Dancing/4_Dancing_b_3.jpg
1
5 6 0 7 0 0 0 0 0 0
"""


def write_gt(tmp_path: Path) -> Path:
    path = tmp_path / "wider_face_x_bbx_gt.txt"
    path.write_text(GT_TEXT)
    return path


def gt_table(*boxes: tuple, invalid: tuple = ()) -> pd.DataFrame:
    """A ground-truth table from (x, y, w, h) boxes; faces whose 0-based index is in ``invalid`` are invalid."""
    rows = [[*b, 0, 0, 0, int(i in invalid), 0, 0] for i, b in enumerate(boxes)]
    return pd.DataFrame(np.asarray(rows, dtype=np.int64).reshape(-1, len(GT_FIELDS)), columns=GT_FIELDS)


def regions(*rows: tuple) -> pd.DataFrame:
    """Region table (frame 0) from (x, y, w, h[, shape]) tuples; shape defaults to 'box'."""
    data = [{"frame_index": 0, "region_id": i, "x": r[0], "y": r[1], "w": r[2], "h": r[3],
             "shape": r[4] if len(r) > 4 else "box", "source": "test", "score": 1.0, "track_id": -1}
            for i, r in enumerate(rows)]
    return pd.DataFrame(data, columns=list(REGION_COLUMNS)).astype(REGION_COLUMNS)


def preds(*rows: tuple) -> tuple[np.ndarray, np.ndarray]:
    """(boxes, scores) from (x, y, w, h, score) tuples."""
    a = np.asarray(rows, dtype=np.float64).reshape(-1, 5)
    return a[:, :4], a[:, 4]


# ------------------------------------------------------------------------------------------ ground truth
def test_read_gt_parses_faces_placeholder_and_validity(tmp_path: Path) -> None:
    gt = read_wider_gt(write_gt(tmp_path))
    assert list(gt) == ["0--Parade/0_Parade_a_1.jpg", "0--Parade/0_Parade_empty_2.jpg", "4--Dancing/4_Dancing_b_3.jpg"]
    a = gt["0--Parade/0_Parade_a_1.jpg"]
    assert list(a.columns) == GT_FIELDS
    assert a.iloc[0].tolist() == [10, 20, 30, 40, 1, 0, 0, 0, 0, 0]
    assert a.iloc[1].tolist() == [50, 60, 8, 9, 2, 1, 0, 1, 2, 0]
    assert len(gt["0--Parade/0_Parade_empty_2.jpg"]) == 0  # the line of zeros is a placeholder, not a face
    assert valid_faces(a).tolist() == [True, False]  # invalid == 1
    assert valid_faces(gt["4--Dancing/4_Dancing_b_3.jpg"]).tolist() == [False]  # w == 0


def test_read_gt_rejects_a_truncated_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.txt"
    path.write_text("0--Parade/x.jpg\n3\n1 2 3 4 0 0 0 0 0 0\n")
    with pytest.raises(ValueError, match="announces 3 faces"):
        read_wider_gt(path)


def test_image_stem() -> None:
    assert image_stem("0--Parade/0_Parade_marchingband_1_465.jpg") == "0_Parade_marchingband_1_465"
    assert image_stem("0_Parade_marchingband_1_465") == "0_Parade_marchingband_1_465"


# ------------------------------------------------------------------------------------------ difficulty lists
def cell(items: list) -> np.ndarray:
    """A MATLAB cell column (N, 1) as scipy.io.savemat writes it."""
    out = np.empty((len(items), 1), dtype=object)
    for i, v in enumerate(items):
        out[i, 0] = v
    return out


def write_keep_mat(path: Path, keeps: dict[str, list[list[int]]]) -> None:
    """A tiny official-style wider_*_val.mat: event_list, file_list, gt_list (1-based (K,1) index arrays)."""
    from scipy.io import savemat

    events = {"0--Parade": ["0_Parade_a_1", "0_Parade_empty_2"], "4--Dancing": ["4_Dancing_b_3"]}
    flat = iter(keeps.values())
    gt_list = [cell([np.asarray(next(flat), dtype=np.uint8).reshape(-1, 1) for _ in files])
               for files in events.values()]
    savemat(path, {
        "event_list": cell(list(events)),
        "file_list": cell([cell(files) for files in events.values()]),
        "gt_list": cell(gt_list),
        "face_bbx_list": cell([cell([np.zeros((0, 4))] * len(files)) for files in events.values()]),
    })


def test_read_difficulty_lists(tmp_path: Path) -> None:
    pytest.importorskip("scipy")
    write_keep_mat(tmp_path / "wider_easy_val.mat", {"a": [1], "e": [], "b": []})
    write_keep_mat(tmp_path / "wider_hard_val.mat", {"a": [1, 2], "e": [], "b": [1]})
    easy = read_keep_list(tmp_path / "wider_easy_val.mat")
    assert set(easy) == {"0_Parade_a_1", "0_Parade_empty_2", "4_Dancing_b_3"}
    assert easy["0_Parade_a_1"].tolist() == [1] and easy["0_Parade_a_1"].dtype == np.int64
    assert easy["0_Parade_empty_2"].tolist() == []
    lists = read_difficulty_lists(tmp_path, settings=("easy", "hard"),
                                  images=["0--Parade/0_Parade_a_1.jpg", "4--Dancing/4_Dancing_b_3.jpg"])
    assert set(lists) == {"0_Parade_a_1", "4_Dancing_b_3"}  # restricted to the images present
    assert lists["0_Parade_a_1"]["hard"].tolist() == [1, 2]
    assert lists["4_Dancing_b_3"]["hard"].tolist() == [1] and lists["4_Dancing_b_3"]["easy"].tolist() == []


# ------------------------------------------------------------------------------------------ official AP
def test_iou_uses_the_official_plus_one_convention() -> None:
    # x2 = x + w, then widths x2 - x1 + 1: boxes [0,10] and [5,15] -> 6*11 / (121 + 121 - 66) = 0.375
    assert wider_iou([[0, 0, 10, 10]], [[5, 0, 10, 10]])[0, 0] == pytest.approx(66 / 176)
    # a 2x2 face shifted by one pixel reaches 0.5 (exact area would give 1/3)
    assert wider_iou([[1, 0, 2, 2]], [[0, 0, 2, 2]])[0, 0] == pytest.approx(0.5)
    # apart by more than one pixel: no overlap; touching edges still share the "+1" pixel column
    assert wider_iou([[0, 0, 2, 2]], [[4, 0, 2, 2]])[0, 0] == 0.0
    assert wider_iou([[0, 0, 2, 2]], [[2, 0, 2, 2]])[0, 0] == pytest.approx(3 / 15)
    assert wider_iou(np.zeros((0, 4)), [[0, 0, 2, 2]]).shape == (0, 1)


def test_voc_ap_all_point_interpolation() -> None:
    # TP, FP, TP over 2 faces: P = 1 at R = 0.5, P = 2/3 at R = 1 -> 0.5 * 1 + 0.5 * 2/3
    assert voc_ap(np.array([0.5, 0.5, 1.0]), np.array([1.0, 0.5, 2 / 3])) == pytest.approx(5 / 6)


def test_ap_tp_fp_tp() -> None:
    gt = {"img": gt_table((0, 0, 10, 10), (100, 100, 10, 10))}
    pred = {"img": preds((0, 0, 10, 10, 0.9), (50, 50, 10, 10, 0.8), (100, 100, 10, 10, 0.7))}
    ap, precision, recall = wider_ap(pred, gt, {"img": np.array([1, 2])})
    assert ap == pytest.approx(5 / 6)
    assert len(precision) == len(recall) == 1000
    assert (precision[0], recall[0]) == (1.0, 0.5)  # threshold 0.999: only the 0.9 one (normalised to 1)
    assert precision[-1] == pytest.approx(2 / 3) and recall[-1] == 1.0  # threshold 0: all three


def test_ap_does_not_depend_on_the_order_predictions_are_passed_in() -> None:
    gt = {"img": gt_table((0, 0, 10, 10), (100, 100, 10, 10))}
    pred = {"img": preds((100, 100, 10, 10, 0.7), (50, 50, 10, 10, 0.8), (0, 0, 10, 10, 0.9))}
    assert wider_ap(pred, gt, {"img": np.array([1, 2])})[0] == pytest.approx(5 / 6)


def test_prediction_on_an_ignored_face_is_neither_tp_nor_fp() -> None:
    # face 1 kept, face 2 ignored (not in the keep list); the top prediction hits the ignored face
    boxes, scores = preds((100, 100, 10, 10, 0.9), (0, 0, 10, 10, 0.5), (300, 300, 10, 10, 0.1))
    gt_boxes = np.array([[0, 0, 10, 10], [100, 100, 10, 10]], dtype=float)
    pred_recall, proposal_list = image_eval(boxes, gt_boxes, np.array([True, False]))
    assert proposal_list.tolist() == [-1, 1, 1] and pred_recall.tolist() == [0, 1, 1]
    ap, precision, recall = wider_ap({"i": (boxes, scores)}, {"i": gt_table(*gt_boxes.astype(int))},
                                     {"i": np.array([1])})
    assert ap == pytest.approx(1.0)  # counted as a FP it would be 0.5
    assert math.isnan(precision[0]) and recall[0] == 0.0  # only the ignored hit proposed: nothing counted
    assert precision[-1] == pytest.approx(0.5) and recall[-1] == 1.0


def test_second_hit_on_a_found_face_is_a_false_positive() -> None:
    boxes, _ = preds((0, 0, 10, 10, 0.9), (1, 0, 10, 10, 0.8))
    pred_recall, proposal_list = image_eval(boxes, np.array([[0, 0, 10, 10]], float), np.array([True]))
    assert proposal_list.tolist() == [1, 1] and pred_recall.tolist() == [1, 1]


def test_ap_counts_kept_faces_of_images_without_predictions_and_requires_every_image() -> None:
    gt = {"a.jpg": gt_table((0, 0, 10, 10)), "b.jpg": gt_table((0, 0, 10, 10))}
    keep = {"a": np.array([1]), "b": np.array([1])}  # keys matched by stem
    pred = {"a.jpg": preds((0, 0, 10, 10, 0.9)), "b.jpg": preds()}
    ap, _, recall = wider_ap(pred, gt, keep)
    assert recall[-1] == 0.5 and ap == pytest.approx(0.5)
    with pytest.raises(ValueError, match="predictions lacks"):
        wider_ap({"a.jpg": pred["a.jpg"]}, gt, keep)


# ------------------------------------------------------------------------------------------ seed accuracy
def test_seed_accuracy_counts_every_listed_face() -> None:
    gt = {"a.jpg": gt_table((0, 0, 10, 10), (20, 0, 10, 10), invalid=(1,)),  # 2 listed, one invalid
          "b.jpg": gt_table(), "c.jpg": gt_table((0, 0, 5, 5))}
    assert seed_accuracy({"a": 2, "b": 0, "c": 3}, gt) == pytest.approx(2 / 3)
    assert seed_accuracy({"a": 1, "b": 1, "c": 1}, gt) == pytest.approx(1 / 3)
    with pytest.raises(ValueError):
        seed_accuracy({"a": 2}, gt)


# ------------------------------------------------------------------------------------------ privacy metric
def test_regions_touching_no_face() -> None:
    gt = gt_table((10, 10, 10, 10), (100, 100, 10, 10), invalid=(1,))
    regs = regions(
        (19, 19, 5, 5),             # shares pixel (19, 19) with face 1: touches
        (20, 10, 5, 5),             # starts where face 1 ends (x 20): touches nothing
        (98, 98, 4, 4),             # overlaps the invalid face: still a labeled face, touches
        (0, 0, 12, 12, "ellipse"),  # box overlaps face 1's corner pixels 10..11, but the ellipse leaves them out
        (0, 0, 0, 5),               # zero size: not a region
    )
    assert regions_touching_no_face(regs, gt) == (4, 2)
    assert regions_touching_no_face(regs, np.zeros((0, 4))) == (4, 4)


def test_score_images_pools_valid_faces_and_size_bands() -> None:
    gt = {
        # a: a 30x30 face fully blurred, a 10x10 face half blurred, an invalid face that counts nowhere
        "e/a.jpg": gt_table((0, 0, 30, 30), (50, 0, 10, 10), (80, 0, 40, 40), invalid=(2,)),
        # b: a 25x20 face not blurred; one region far away from it
        "e/b.jpg": gt_table((0, 0, 25, 20)),
        # c: no face (count 0); its region touches nothing
        "e/c.jpg": gt_table(),
    }
    regs = {"a": regions((0, 0, 30, 30), (50, 0, 5, 10)), "b": regions((60, 60, 10, 10)), "c": regions((0, 0, 4, 4))}
    sizes = {"a": (100, 200), "b": (100, 100), "c": (50, 50)}
    res = score_images(gt, regs, sizes)
    a = res["all"]
    assert a["labeled_faces"] == 3 and a["protected_at_0_8"] == 1 and a["protected_at_0_5"] == 2
    assert a["recall_at_0_8"] == pytest.approx(1 / 3) and a["recall_at_0_5"] == pytest.approx(2 / 3)
    assert a["exposed_images"] == 2
    # blurred pixels of the images with a scored face (900 + 50 + 100) / face area (900 + 100 + 500)
    assert a["blur_area_ratio"] == pytest.approx(1050 / 1500)
    big = res["min_side"]  # the 30x30 and 25x20 faces (shorter side >= 20)
    assert big["labeled_faces"] == 2 and big["recall_at_0_8"] == pytest.approx(0.5)
    assert (res["regions"], res["regions_touching_no_face"]) == (4, 2)
    assert res["share_regions_touching_no_face"] == pytest.approx(0.5)
    faces = res["faces"]
    assert faces["face_index"].tolist() == [0, 1, 0] and faces["short_side"].tolist() == [30, 10, 20]
    bands = recall_by_size(faces)
    assert bands["faces"].tolist() == [1, 2, 0, 0]  # [0,20): 10; [20,40): 30 and 20 (edge in the upper band)
    assert bands["recall_at_0_8"].iloc[0] == 0.0 and bands["recall_at_0_8"].iloc[1] == 0.5
    assert bands["recall_at_0_5"].iloc[0] == 1.0 and math.isnan(bands["recall_at_0_8"].iloc[3])


def test_score_images_requires_regions_for_every_image_and_frame_zero() -> None:
    gt = {"a.jpg": gt_table((0, 0, 10, 10))}
    with pytest.raises(ValueError, match="regions lacks"):
        score_images(gt, {}, {"a": (20, 20)})
    bad = regions((0, 0, 10, 10)).assign(frame_index=3)
    with pytest.raises(ValueError, match="frame_index 0"):
        score_images(gt, {"a": bad}, {"a": (20, 20)})
