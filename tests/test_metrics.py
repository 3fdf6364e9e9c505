"""The privacy metric (btb.evaluation.metrics) against hand-computed cases; no video, no detector."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from btb.evaluation.metrics import clipped_area, coverage, face_coverages, pool, score_video, summarise
from btb.regions.blur import shape_mask
from btb.regions.tables import REGION_COLUMNS

H, W = 100, 200


def regions(*rows: tuple) -> pd.DataFrame:
    """Region table from (frame_index, x, y, w, h[, shape]) tuples; shape defaults to 'box'."""
    data = [
        {"frame_index": r[0], "region_id": i, "x": r[1], "y": r[2], "w": r[3], "h": r[4],
         "shape": r[5] if len(r) > 5 else "box", "source": "test", "score": 1.0, "track_id": -1}
        for i, r in enumerate(rows)
    ]
    return pd.DataFrame(data, columns=list(REGION_COLUMNS)).astype(REGION_COLUMNS)


def gt(*rows: tuple) -> pd.DataFrame:
    """Ground truth from (frame_index, x, y, w, h, labeled) tuples."""
    return pd.DataFrame(rows, columns=["frame_index", "x", "y", "w", "h", "labeled"])


def box_mask(x: int, y: int, w: int, h: int) -> np.ndarray:
    m = np.zeros((H, W), dtype=bool)
    m[y : y + h, x : x + w] = True
    return m


# ------------------------------------------------------------------------------------------- coverage
def test_full_coverage() -> None:
    assert coverage((10, 10, 20, 20), box_mask(5, 5, 40, 40)) == 1.0


def test_no_coverage() -> None:
    assert coverage((10, 10, 20, 20), np.zeros((H, W), dtype=bool)) == 0.0


def test_half_covered_box() -> None:
    # left half of a 20x20 face: columns 10..19 of 10..29
    assert coverage((10, 10, 20, 20), box_mask(0, 0, 20, 100)) == pytest.approx(0.5)


def test_fractional_box_counts_partial_pixels() -> None:
    # G = [10.5, 30.5) x [10, 20); mask covers columns 0..19, i.e. x < 20 -> 9.5 of 20 units of width
    assert coverage((10.5, 10, 20, 10), box_mask(0, 0, 20, 100)) == pytest.approx(9.5 / 20)
    # a mask pixel shared half with the box counts half
    m = np.zeros((H, W), dtype=bool)
    m[10, 10] = True
    assert coverage((10.5, 10, 1, 1), m) == pytest.approx(0.5)


def test_gt_clipped_to_frame() -> None:
    # 20x20 box half outside the left edge: its in-frame half (x 0..9) is what counts
    assert clipped_area((-10, 0, 20, 20), H, W) == 200.0
    assert coverage((-10, 0, 20, 20), box_mask(0, 0, 10, 20)) == 1.0
    assert coverage((-10, 0, 20, 20), box_mask(0, 0, 5, 20)) == pytest.approx(0.5)


def test_zero_area_gt_is_nan() -> None:
    mask = box_mask(0, 0, W, H)
    assert math.isnan(coverage((10, 10, 0, 20), mask))
    assert math.isnan(coverage((W + 5, 10, 20, 20), mask))  # wholly outside the frame


# ---------------------------------------------------------------------------------------- score_video
def test_several_regions_jointly_cover_one_face() -> None:
    g = gt((0, 10, 10, 20, 20, 1))
    # two boxes, each covering half of the face (left and right halves): neither alone reaches 0.8
    s = score_video(g, regions((0, 0, 0, 20, 50), (0, 20, 0, 20, 50)), H, W)
    assert s["recall_at_0_8"] == 1.0 and s["exposed_frames"] == 0
    alone = score_video(g, regions((0, 0, 0, 20, 50)), H, W)
    assert alone["recall_at_0_8"] == 0.0 and alone["recall_at_0_5"] == 1.0 and alone["exposed_frames"] == 1


def test_overlapping_regions_count_blurred_pixels_once() -> None:
    g = gt((0, 0, 0, 10, 10, 1))
    s = score_video(g, regions((0, 0, 0, 10, 10), (0, 5, 0, 10, 10)), H, W)
    assert s["blurred_area"] == 150.0  # union 15x10, not 200
    assert s["blur_area_ratio"] == pytest.approx(1.5)


def test_frame_without_regions_is_exposed() -> None:
    g = gt((0, 10, 10, 20, 20, 1), (1, 10, 10, 20, 20, 1))
    s = score_video(g, regions((0, 10, 10, 20, 20)), H, W)
    assert s["labeled_faces"] == 2
    assert s["recall_at_0_8"] == 0.5 and s["exposed_frames"] == 1
    empty = score_video(g, regions(), H, W)
    assert empty["recall_at_0_8"] == 0.0 and empty["exposed_frames"] == 2 and empty["blur_area_ratio"] == 0.0


def test_regions_on_other_frames_do_not_count() -> None:
    s = score_video(gt((3, 10, 10, 20, 20, 1)), regions((2, 0, 0, W, H), (4, 0, 0, W, H)), H, W)
    assert s["recall_at_0_5"] == 0.0 and s["exposed_frames"] == 1


def test_unlabeled_rows_ignored() -> None:
    g = gt((0, 10, 10, 20, 20, 1), (1, np.nan, np.nan, np.nan, np.nan, 0), (2, 10, 10, 20, 20, 0))
    s = score_video(g, regions((0, 10, 10, 20, 20), (2, 0, 0, 50, 50)), H, W)
    assert s["labeled_faces"] == 1 and s["recall_at_0_8"] == 1.0 and s["exposed_frames"] == 0
    # blur in unlabeled frame 2 does not enter the ratio
    assert s["blur_area_ratio"] == pytest.approx(1.0)


def test_zero_area_face_is_skipped_not_exposed() -> None:
    s = score_video(gt((0, 10, 10, 0, 0, 1), (1, 10, 10, 20, 20, 1)), regions((1, 10, 10, 20, 20)), H, W)
    assert s["labeled_faces"] == 1 and s["skipped_faces"] == 1
    assert s["recall_at_0_8"] == 1.0 and s["exposed_frames"] == 0 and s["blur_area_ratio"] == 1.0


def test_blur_area_ratio_by_hand() -> None:
    # frame 0: face 10x10 (100), blur 20x20 (400); frame 1: face 20x10 (200), blur 10x10 covering half (100)
    g = gt((0, 0, 0, 10, 10, 1), (1, 50, 50, 20, 10, 1))
    s = score_video(g, regions((0, 0, 0, 20, 20), (1, 50, 50, 10, 10)), H, W)
    assert s["blurred_area"] == 500.0 and s["gt_area"] == 300.0
    assert s["blur_area_ratio"] == pytest.approx(500 / 300)
    assert s["recall_at_0_8"] == 0.5 and s["recall_at_0_5"] == 1.0 and s["exposed_frames"] == 1


def test_ellipse_uses_region_mask() -> None:
    # a face box equal to its ellipse region's box is covered by the ellipse's share of the box (about
    # pi/4; the rasterised ellipse is slightly fuller for small boxes), exactly as btb.regions.blur paints it
    face = (0, 20, 20, 60, 60)
    g = gt((*face, 1))
    cov = face_coverages(g, regions((*face, "ellipse")), H, W)["coverage"].iloc[0]
    assert cov == pytest.approx(shape_mask(60, 60, "ellipse").mean())
    assert cov == pytest.approx(math.pi / 4, abs=0.04)
    s = score_video(g, regions((*face, "ellipse")), H, W)
    assert s["blurred_area"] == shape_mask(60, 60, "ellipse").sum() and s["recall_at_0_5"] == 1.0


def test_custom_mask_of_scores_another_tools_painting() -> None:
    # another tool's painting (here: only the left half of each region) is scored through mask_of
    def left_half(height: int, width: int, regs: pd.DataFrame) -> np.ndarray:
        m = np.zeros((height, width), dtype=bool)
        for x, y, w, h in regs[["x", "y", "w", "h"]].itertuples(index=False):
            m[y : y + h, x : x + w // 2] = True
        return m

    g = gt((0, 0, 0, 10, 10, 1))
    cov = face_coverages(g, regions((0, 0, 0, 10, 10)), H, W, mask_of=left_half)
    assert cov["coverage"].iloc[0] == pytest.approx(0.5) and cov["blurred_area"].iloc[0] == 50


def test_pool_sums_clips() -> None:
    a = face_coverages(gt((0, 0, 0, 10, 10, 1)), regions((0, 0, 0, 10, 10)), H, W)
    b = face_coverages(gt((0, 0, 0, 10, 10, 1)), regions(), H, W)
    p = pool({"a": a, "b": b})
    # the same frame index in two clips is two frames
    assert p["labeled_faces"] == 2 and p["recall_at_0_8"] == 0.5 and p["exposed_frames"] == 1
    assert p["blur_area_ratio"] == pytest.approx(100 / 200)


def test_blur_split_into_the_labeled_face_and_elsewhere() -> None:
    # one labeled face 10x10 at (0, 0); a region on it (20x20) and one on an unlabeled bystander (10x10)
    s = score_video(gt((0, 0, 0, 10, 10, 1)), regions((0, 0, 0, 20, 20), (0, 60, 60, 10, 10)), H, W)
    assert s["blur_area_ratio"] == pytest.approx(5.0)
    assert s["face_blur_area_ratio"] == pytest.approx(4.0)
    assert s["off_face_blur_share"] == pytest.approx(0.2)
    # a region merely near the face (no shared area) is not the face's
    near = score_video(gt((0, 0, 0, 10, 10, 1)), regions((0, 10, 0, 10, 10)), H, W)
    assert near["face_blur_area_ratio"] == 0.0 and near["off_face_blur_share"] == 1.0



def test_blur_split_is_nan_when_not_computed_for_every_frame() -> None:
    g, r = gt((0, 0, 0, 10, 10, 1)), regions((0, 0, 0, 20, 20))
    unsplit = face_coverages(g, r, H, W, split=False)
    assert "face_blurred_area" not in unsplit.columns
    s = summarise(unsplit)
    assert s["blur_area_ratio"] == pytest.approx(4.0)
    assert math.isnan(s["face_blur_area_ratio"]) and math.isnan(s["off_face_blur_share"])
    mixed = pool({"a": face_coverages(g, r, H, W), "b": unsplit})
    assert math.isnan(mixed["face_blur_area_ratio"])
    assert pool({"a": face_coverages(g, r, H, W)})["face_blur_area_ratio"] == pytest.approx(4.0)
