"""The encoded file checked against its own regions, pixel by pixel, with no detector.

Every output frame is compared with its input frame blurred by the region table (``blur_frame``, the function
the encoder painted with). Where the two agree, the file shows exactly what the regions say; two ways they can
disagree are flags (detector ``render``):

- **a region that kept its detail**: the output still carries the detail the blur removes from the input.
  With ``d_in = input - rendered`` and ``d_out = output - rendered``, the share kept is the regression of
  ``d_out`` on ``d_in``: about 1 where the blur was dropped or painted elsewhere (the output shows the input
  there), about 0 where it was applied (what remains is compression noise). It is judged over the region's box
  and over each cell of a grid of up to ``GRID`` x ``GRID`` cells of at least ``MIN_CELL_PX`` (a blur painted
  over part of its region), less ``EDGE_PX`` at the region's edge, where compression mixes in the unblurred
  pixels beside it. Boxes and cells whose blur removes little (RMS of ``d_in`` below ``min_detail`` grey
  levels: flat or dark content, nothing to hide, and where compression noise weighs most) are not judged, nor
  are regions under ``MIN_JUDGED_PX`` on a side.
- **changed pixels outside the blur**: outside the blur (widened by ``EDGE_PX``), the output must show the
  input frame's pixels. Grey levels that differ by more than ``pixel_tolerance`` in patches that survive a 3x3
  erosion (compression leaves single pixels; the erosion also strips one pixel off each patch's rim),
  ``min_changed_px`` such pixels or more in the frame, are a flag on the box around them: a blur in the wrong
  place, a frame out of step with its regions, content that is not the input's.

This is what checks the file itself: an encoder that drops the blur, regions painted on the wrong frames or
places, a file swapped after encoding. What it does not see: a blur of the right kind but weaker than
configured (on a face, ``detail`` 12 instead of 6 keeps a share of about 0.55, under the threshold), a blur
shrunk by less than about half a grid cell, regions under ``MIN_JUDGED_PX``, and boxes or cells with less
detail than ``min_detail``. The strength of the blur itself is bounded by the configuration check
(``btb.config.check_safety``) and measured by ``benchmarks/blur_strength.py``.

Measured on twelve real clips (``benchmarks/render_check.py``; docs/review.md): see there for the shares kept
by blurred regions and by the same regions encoded without their blur, and for frames out of step.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np
import pandas as pd

from btb.regions.blur import BlurParams, blur_frame

# The flag's name. btb.release.review names it too: each module runs in an environment without the other's
# dependencies (this one without cryptography, the release jobs without OpenCV); tests/test_render.py checks
# that the two agree.
RENDER = "render"
MIN_JUDGED_PX = 8  # a region narrower or lower than this is not judged (a blur that small changes little; the
# review items set aside faces under 10 px as too small to identify)
GRID = 4  # a region is also judged cell by cell, on a grid of up to this many cells a side,
MIN_CELL_PX = 16  # of cells at least this large
SAMPLES_PX = 64  # a larger region is judged on every n-th pixel, at least this many samples a side
EDGE_PX = 3  # the blur's edge, widened by this many pixels, is left out of the comparison outside the blur
_EDGE_KERNEL = np.ones((2 * EDGE_PX + 1, 2 * EDGE_PX + 1), np.uint8)
_ERODE_KERNEL = np.ones((3, 3), np.uint8)


@dataclass(frozen=True)
class RenderParams:
    """``verify.render`` of the configuration (defaults in its schema)."""

    max_kept: float  # a region keeping at least this share of the detail its blur removes is a flag
    min_detail: float  # RMS grey levels the blur must remove from a region for it to be judged
    pixel_tolerance: float  # outside the blur, a grey-level difference above this is a change
    min_changed_px: int  # this many changed pixels (after erosion) in a frame are a flag

    def __post_init__(self) -> None:
        if not 0 < self.max_kept <= 1:
            raise ValueError("render.max_kept must be in (0, 1]")
        if self.min_detail <= 0 or self.pixel_tolerance < 0 or self.min_changed_px < 1:
            raise ValueError("render.min_detail must be > 0, pixel_tolerance >= 0, min_changed_px >= 1")


def _grey(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def _edges(length: int, step: int) -> np.ndarray:
    """Cell edges (in samples of ``step`` pixels) splitting a span of ``length`` pixels into up to ``GRID``
    cells of at least ``MIN_CELL_PX`` pixels."""
    samples = -(-length // step)
    n = max(1, min(GRID, length // MIN_CELL_PX, samples))
    return np.linspace(0, samples, n + 1).round().astype(np.int64)


def _cell_sums(table: np.ndarray, ys: np.ndarray, xs: np.ndarray) -> np.ndarray:
    """Sums of ``table`` over the grid cells between edges ``ys`` and ``xs``."""
    rows = np.add.reduceat(table, ys[:-1], axis=0, dtype=np.float64)
    return np.add.reduceat(rows, xs[:-1], axis=1)


def region_flags(index: int, output: np.ndarray, source: np.ndarray, rendered: np.ndarray, regions: pd.DataFrame,
                 params: RenderParams, mask: np.ndarray | None = None) -> list[tuple]:
    """Flags of one frame's regions where the output kept the detail their blur removes (grey images), judged
    over the region's box and over each cell of a grid of up to ``GRID`` x ``GRID`` (a blur painted over part
    of its region only); the flag's score is the largest share kept by a judged box or cell. A region larger
    than ``SAMPLES_PX`` on a side is judged on every n-th pixel (a grid of at least ``SAMPLES_PX`` samples a
    side: the share is a ratio of averages, which a regular sample estimates). ``mask``: the frame's blurred
    pixels, for the flag's ``covered`` (the share of its box the regions say is blurred)."""
    h, w = output.shape[:2]
    rows = []
    for x, y, rw, rh in regions[["x", "y", "w", "h"]].to_numpy(dtype=np.int64):
        x0, y0, x1, y1 = max(int(x), 0), max(int(y), 0), min(int(x + rw), w), min(int(y + rh), h)
        if x1 - x0 < MIN_JUDGED_PX or y1 - y0 < MIN_JUDGED_PX:
            continue
        flag_box = (float(x0), float(y0), float(x1 - x0), float(y1 - y0))
        if x1 - x0 >= MIN_JUDGED_PX + 2 * EDGE_PX and y1 - y0 >= MIN_JUDGED_PX + 2 * EDGE_PX:
            # the interior: at the region's edge, compression mixes in the unblurred pixels beside it
            x0, y0, x1, y1 = x0 + EDGE_PX, y0 + EDGE_PX, x1 - EDGE_PX, y1 - EDGE_PX
        step = max(1, min(x1 - x0, y1 - y0) // SAMPLES_PX)
        box = (slice(y0, y1, step), slice(x0, x1, step))
        r = rendered[box].astype(np.float32)
        d_in = source[box].astype(np.float32) - r
        d_out = output[box].astype(np.float32) - r
        ys, xs = _edges(y1 - y0, step), _edges(x1 - x0, step)
        area = np.diff(ys)[:, None] * np.diff(xs)[None, :]
        kept_sum, removed_sum = _cell_sums(d_out * d_in, ys, xs), _cell_sums(d_in * d_in, ys, xs)
        kept_sum = np.append(kept_sum.ravel(), kept_sum.sum())  # the cells, then the whole box
        removed_sum = np.append(removed_sum.ravel(), removed_sum.sum())
        area = np.append(area.ravel(), area.sum())
        judged = (removed_sum > 0) & (removed_sum / area >= params.min_detail ** 2)
        if not judged.any():
            continue
        worst = float((kept_sum[judged] / removed_sum[judged]).max())
        if worst >= params.max_kept:
            bx, by, bw, bh = (int(v) for v in flag_box)
            covered = float(mask[by:by + bh, bx:bx + bw].mean()) if mask is not None else 1.0
            rows.append((index, RENDER, worst, *flag_box, covered, np.nan))
    return rows


def changed_outside(index: int, output: np.ndarray, source: np.ndarray, mask: np.ndarray,
                    params: RenderParams) -> list[tuple]:
    """A flag on the box around the pixels outside the blur that differ from the input (grey images), when at
    least ``min_changed_px`` of them survive a 3x3 erosion (which also strips one pixel off each patch's rim);
    else none. Its score is the share of the box's pixels that changed; ``covered`` is 0 (none of them is in
    the blur)."""
    changed = cv2.absdiff(output, source) > params.pixel_tolerance
    if mask.any():
        changed &= cv2.dilate(mask.astype(np.uint8), _EDGE_KERNEL) == 0
    if not changed.any():
        return []
    solid = cv2.erode(changed.astype(np.uint8), _ERODE_KERNEL) > 0
    if int(solid.sum()) < params.min_changed_px:
        return []
    ys, xs = np.nonzero(solid)
    x0, y0, x1, y1 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    share = float(changed[y0:y1, x0:x1].mean())
    return [(index, RENDER, share, float(x0), float(y0), float(x1 - x0), float(y1 - y0), 0.0, np.nan)]


class RenderCheck:
    """Both checks, frame by frame: ``step(index, output, source, regions, mask)`` with the BGR output and
    input frames, the frame's regions and their mask (``btb.regions.blur.region_mask``)."""

    def __init__(self, params: RenderParams, blur: BlurParams) -> None:
        self.params = params
        self.blur = blur

    def step(self, index: int, output: np.ndarray, source: np.ndarray, regions: pd.DataFrame,
             mask: np.ndarray) -> list[tuple]:
        if output.shape != source.shape:
            h, w = output.shape[:2]
            return [(index, RENDER, 1.0, 0.0, 0.0, float(w), float(h), 0.0, np.nan)]
        out, src = _grey(output), _grey(source)
        rows = changed_outside(index, out, src, mask, self.params)
        if len(regions):
            rendered = _grey(blur_frame(source, regions, self.blur))
            rows += region_flags(index, out, src, rendered, regions, self.params, mask)
        return rows
