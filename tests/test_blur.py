import numpy as np
import pandas as pd
import pytest

from btb.regions.blur import BlurParams, blur_frame, region_mask, shape_mask


def regions(rows):
    return pd.DataFrame(rows, columns=["x", "y", "w", "h", "shape"])


def test_box_mask_is_exact():
    m = region_mask(20, 30, regions([(2, 3, 5, 4, "box")]))
    assert m.sum() == 20 and m[3:7, 2:7].all()


def test_ellipse_mask_is_inscribed():
    m = shape_mask(40, 20, "ellipse")
    assert m[10, 20] and not m[0, 0] and not m[19, 39]
    assert m.sum() == pytest.approx(np.pi * 20 * 10, rel=0.05)


def test_overlapping_regions_union():
    m = region_mask(10, 10, regions([(0, 0, 5, 5, "box"), (3, 3, 5, 5, "box")]))
    assert m.sum() == 25 + 25 - 4


@pytest.mark.parametrize("method", ["gaussian", "pixelate", "fill"])
def test_blur_changes_only_the_region(method):
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (60, 80, 3), dtype=np.uint8)
    r = regions([(10, 10, 30, 30, "ellipse")])
    out = blur_frame(img, r, BlurParams(method=method, detail=6))
    mask = region_mask(60, 80, r)
    assert (out[~mask] == img[~mask]).all()
    assert np.abs(out[mask].astype(int) - img[mask]).mean() > 40  # noise replaced by its local mean
    assert out[mask].std() < 0.5 * img[mask].std()


def test_blur_scales_with_face_size():
    """A 200-px face keeps no more detail than a 20-px one: detail is set per region, not in pixels."""
    rng = np.random.default_rng(1)
    for size in (20, 200):
        img = rng.integers(0, 256, (size, size, 3), dtype=np.uint8)
        out = blur_frame(img, regions([(0, 0, size, size, "box")]), BlurParams("gaussian", 6))
        lap = np.abs(np.diff(out.astype(float), axis=0)).mean()
        assert lap < 8


def test_bad_params():
    with pytest.raises(ValueError):
        BlurParams(method="swirl", detail=6)
    with pytest.raises(ValueError):
        BlurParams(method="gaussian", detail=0)
