import numpy as np
import pytest

from btb.regions.boxes import as_boxes, clip_to_frame, iou_matrix, nms, scale_about_centre, to_int_pixels


def test_iou_by_hand():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 10, 10], [20, 20, 5, 5], [0, 0, 10, 10]])
    assert iou_matrix(a, b) == pytest.approx(np.array([[50 / 150, 0.0, 1.0]]))


def test_empty_inputs_keep_shape():
    assert as_boxes([]).shape == (0, 4)
    assert iou_matrix(np.zeros((0, 4)), np.ones((3, 4))).shape == (0, 3)
    assert nms(np.zeros((0, 4)), np.zeros(0), 0.5).tolist() == []


def test_bad_shape_is_an_error():
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        as_boxes([[1, 2, 3]])


def test_nms_keeps_best_of_overlapping():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 10, 10], [50, 50, 10, 10]])
    assert nms(boxes, np.array([0.6, 0.9, 0.5]), 0.3).tolist() == [1, 2]


def test_scale_clip_and_integer_pixels():
    b = scale_about_centre(np.array([[10, 10, 10, 20]]), 1.5)
    assert b.tolist() == [[7.5, 5.0, 15.0, 30.0]]
    c = clip_to_frame(np.array([[-5, -5, 20, 20], [100, 100, 5, 5]]), 30, 30)
    assert c.tolist() == [[0, 0, 15, 15], [30, 30, 0, 0]]
    # integer boxes contain the float box: floor of the start, ceil of the end
    assert to_int_pixels(np.array([[1.2, 2.7, 3.1, 4.0]]), 100, 100).tolist() == [[1, 2, 4, 5]]


def test_centres_inside():
    from btb.regions.boxes import centres_inside

    a = np.array([[0.0, 0.0, 10.0, 10.0], [100.0, 100.0, 4.0, 4.0]])  # centres (5, 5) and (102, 102)
    b = np.array([[5.0, 5.0, 1.0, 1.0], [90.0, 90.0, 10.0, 10.0], [0.0, 0.0, 200.0, 200.0]])
    assert centres_inside(a, b).tolist() == [[True, False, True], [False, False, True]]
    assert centres_inside(np.zeros((0, 4)), b).shape == (0, 3)
