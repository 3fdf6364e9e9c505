"""The render check (btb.release.render): the encoded file against its own regions, with no detector."""

from __future__ import annotations

import cv2
import numpy as np
import pandas as pd
import pytest

from btb.regions.blur import BlurParams, blur_frame, region_mask
from btb.release.items import ItemParams, review_items
from btb.release.render import RENDER, RenderCheck, RenderParams, region_flags
from btb.release.residual import ResidualParams, flags_table, verify_frames
from btb.video.demo import _face_sprite

PARAMS = RenderParams(max_kept=0.6, min_detail=5.0, pixel_tolerance=24.0, min_changed_px=16)
BLUR = BlurParams(method="gaussian", detail=6)
FACE = (100, 60, 210, 240)  # x, y, w, h of the pasted head and shoulders
WALL = (420, 200, 120, 90)  # a region on flat content


def scene(dx: int = 0) -> np.ndarray:
    """A 360x640 frame: a real face photograph (moved right by ``dx``), a flat wall and a textured strip."""
    img = np.full((360, 640, 3), (90, 110, 130), np.uint8)
    x, y, w, h = FACE
    img[y:y + h, x + dx:x + dx + w] = _face_sprite()
    rng = np.random.default_rng(1)
    img[300:360, :] = rng.integers(0, 255, (60, 640, 3), dtype=np.uint8)
    return img


def regions(*boxes: tuple[int, int, int, int], shape: str = "box") -> pd.DataFrame:
    return pd.DataFrame([{"x": x, "y": y, "w": w, "h": h, "shape": shape} for x, y, w, h in boxes])


def encoded(image: np.ndarray, quality: int = 90) -> np.ndarray:
    """The image through a lossy codec, as the output file would be (JPEG here; the end-to-end tests use x264)."""
    ok, buf = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def check(output: np.ndarray, source: np.ndarray, regs: pd.DataFrame) -> list[tuple]:
    return RenderCheck(PARAMS, BLUR).step(7, output, source, regs, region_mask(360, 640, regs))


@pytest.mark.parametrize("shape", ["box", "ellipse"])
def test_a_correctly_blurred_frame_passes(shape):
    src = scene()
    regs = regions(FACE, WALL, shape=shape)
    assert check(encoded(blur_frame(src, regs, BLUR)), src, regs) == []


def test_a_dropped_blur_is_a_flag_on_its_region():
    """The encoder wrote the input unblurred: the face's region keeps all its detail; the flat wall's region has
    none to lose and is not judged."""
    src = scene()
    regs = regions(FACE, WALL)
    rows = check(encoded(src), src, regs)
    assert [(r[1], r[3:7]) for r in rows] == [(RENDER, tuple(float(v) for v in FACE))]
    assert rows[0][2] > 0.9 and rows[0][0] == 7


def test_one_region_left_unblurred_among_others():
    src = scene()
    strip = (0, 300, 200, 60)
    regs = regions(FACE, strip)
    out = blur_frame(src, regions(strip), BLUR)  # the face's region was not painted
    rows = check(encoded(out), src, regs)
    assert [r[3:7] for r in rows] == [tuple(float(v) for v in FACE)]


def test_blur_painted_in_the_wrong_place():
    """The blur landed 40 px right of its region: the region shows the face (kept detail) and the blur's new
    place differs from the input (changed pixels outside the blur)."""
    src = scene()
    regs = regions(FACE)
    x, y, w, h = FACE
    out = blur_frame(src, regions((x + 40, y, w, h)), BLUR)
    rows = check(encoded(out), src, regs)
    assert len(rows) == 2
    kept = [r for r in rows if r[3:7] == tuple(float(v) for v in FACE)]
    outside = [r for r in rows if r not in kept]
    assert kept and kept[0][2] > 0.5
    assert outside[0][3] >= x + w - 1 and outside[0][3] + outside[0][5] <= x + w + 40 + 1, "the strip beside it"


def test_a_frame_out_of_step_with_its_regions():
    """The output frame is the next input frame (the face moved 12 px): pixels outside the blur differ."""
    src, moved = scene(), scene(dx=12)
    regs = regions(FACE)
    rows = check(encoded(blur_frame(moved, regs, BLUR)), src, regs)
    assert rows and all(r[1] == RENDER for r in rows)


def test_compression_noise_and_tiny_regions_are_not_flags():
    src = scene()
    regs = regions((300, 100, 6, 6), (60, 310, 5, 40))  # under 8 px on a side: not judged
    assert check(encoded(src, quality=60), src, regs) == []


def test_a_frame_of_another_size_is_one_flag_on_the_whole_frame():
    src = scene()
    rows = RenderCheck(PARAMS, BLUR).step(0, src[:200], src, regions(FACE), region_mask(360, 640, regions(FACE)))
    assert [r[3:7] for r in rows] == [(0.0, 0.0, 640.0, 200.0)]


def test_the_score_is_the_share_of_the_removed_detail_kept():
    """Grey frames: output = rendered + k * (input - rendered) keeps the share k of the removed detail, over the
    box and every cell; a region whose blur removes nothing anywhere is not judged."""
    src = cv2.cvtColor(scene(), cv2.COLOR_BGR2GRAY).astype(np.float32)
    rendered = cv2.GaussianBlur(src, (0, 0), 8)
    regs = regions(FACE)
    for k in (0.1, 0.5, 0.7, 1.0):
        out = np.clip(rendered + k * (src - rendered), 0, 255)
        rows = region_flags(3, out, src, rendered, regs, RenderParams(0.01, 5, 24, 16))
        assert rows and rows[0][2] == pytest.approx(k, abs=0.02) and rows[0][3:7] == tuple(float(v) for v in FACE)
    assert region_flags(3, rendered, src, rendered, regs, RenderParams(0.01, 5, 24, 16)) == [], "all removed"
    assert region_flags(3, src, src, src, regs, RenderParams(0.01, 5, 24, 16)) == []


def test_a_flat_cell_does_not_hide_a_dropped_blur():
    """A cell with no detail at all (0/0) must not turn the region's score into NaN: the face's region with its
    blur dropped and one flat quadrant is flagged at any min_detail."""
    src = scene()
    x, y, w, h = FACE
    src[y:y + h // 2, x:x + w // 2] = 100  # a flat quadrant
    for min_detail in (0.01, 5.0):
        rows = RenderCheck(RenderParams(0.6, min_detail, 24, 16), BLUR).step(
            0, src, src, regions(FACE), region_mask(360, 640, regions(FACE)))
        assert len(rows) == 1 and rows[0][2] == pytest.approx(1.0)


def test_params_are_checked():
    with pytest.raises(ValueError):
        RenderParams(max_kept=0, min_detail=3, pixel_tolerance=24, min_changed_px=16)
    with pytest.raises(ValueError):
        RenderParams(max_kept=0.5, min_detail=3, pixel_tolerance=24, min_changed_px=0)
    with pytest.raises(ValueError):
        RenderParams(max_kept=0.5, min_detail=0, pixel_tolerance=24, min_changed_px=16)


def test_verification_runs_it_on_every_frame_and_never_sets_its_flags_aside():
    """verify_frames feeds the check every output frame with its input frame; a render flag smaller than a face
    would be (too_small for a detector's flag) stays open, and is not explained away by the head locator, which
    runs on that frame for a face detection and places a seen hand over the flag's box."""
    from test_pose import person

    from btb.release.residual import as_stored

    frames = [scene(), scene()]
    regs = pd.concat([regions(FACE).assign(frame_index=0), regions((20, 20, 9, 9)).assign(frame_index=1)])
    regs["frame_index"] = regs["frame_index"].astype("int64")
    src2 = frames[1].copy()
    src2[20:29, 20:29] = np.indices((9, 9)).sum(axis=0)[..., None] % 2 * 255  # a checkerboard the blur removes
    inputs = [frames[0], src2]
    outputs = [encoded(blur_frame(frames[0], regs[regs.frame_index == 0], BLUR)), encoded(src2)]

    calls = []

    class Locator:  # a person whose seen hand covers the render flag's box (24, 24)
        def detect_people(self, image):
            calls.append(image)
            return [person((500, 100), (24, 24))]

    # a stored YuNet detection on frame 1, on the person's hand too, so the locator runs there
    stored = {"yunet": {1: as_stored(pd.DataFrame([{"score": 0.45, "x": 10.0, "y": 10.0, "w": 30.0, "h": 30.0}]))}}
    params = ResidualParams(thresholds={"yunet": 0.4}, min_covered=0.5, every=1)
    with pytest.raises(ValueError, match="input frames"):
        verify_frames(enumerate(outputs), regs, {}, params, render=RenderCheck(PARAMS, BLUR))
    flags, n, detected = verify_frames(enumerate(outputs), regs, {}, params, stored, locator=Locator(),
                                       inputs=enumerate(inputs), render=RenderCheck(PARAMS, BLUR))
    assert n == 2 and detected == 0 and len(calls) == 1, "the locator ran on frame 1"
    assert flags["detector"].tolist() == ["yunet:input", RENDER] and flags["frame_index"].tolist() == [1, 1]
    assert flags["explained"].tolist() == ["hand", ""]
    flags = flags[flags["detector"] == RENDER]
    items, flags = review_items(flags, {0: 0.0, 1: 0.1}, ItemParams(
        link_gap_s=1.0, link_iou=0.1, link_distance=1.0, min_face_px=10, dismiss_features_blurred=True,
        weak_max_frames=3, confident={"yunet": 0.5}))
    assert items["status"].tolist() == ["open"] and flags["reason"].tolist() == [""]


def test_flags_table_accepts_render_rows():
    rows = check(encoded(scene()), scene(), regions(FACE))
    table = flags_table(rows)
    assert table["detector"].tolist() == [RENDER] and table["explained"].tolist() == [""]


def test_the_release_gate_and_the_check_name_the_flag_alike():
    from btb.release import review

    assert review.RENDER == RENDER
