"""Labeled clips made by construction: real face photographs moved, turned and hidden in ways that break
per-frame detectors, with their face boxes known exactly.

Every scene composes scikit-image's ``astronaut`` photograph (public domain, NASA; the face of the demo clip)
over a plain background and writes ``NAME.mp4`` with ``NAME_gt.csv`` in the layout of the labeled clips
(``frame_index,x,y,w,h,labeled``, one row per face per frame; several faces per frame are allowed), so
``btb evaluate`` scores them like the others (``evaluate.synthetic: true``). A labeled box is the face's box
wherever the face is, hidden or not: a face behind an occluder must stay covered, since the occluder may move
away before the next detection.

Scenes:
* ``syn_occluder``: two faces, one growing from small to large near the left, one about 50 px wide on the
  right rocking through ±35° of roll, and a dark bar sweeping across the right half that passes over the
  right face (a track must not jump to the other face, and the hidden face must stay covered).
* ``syn_turn``: a head turning away and back (the photograph narrowed to 30 % of its width and widened).
* ``syn_fast``: a face crossing the frame at 56 px a frame, with matching motion blur.
* ``syn_small``: two child-sized figures far away (faces about 20 and 27 px wide).
* ``syn_edge``: faces entering from the left and the bottom edge.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import pandas as pd

from btb.audit.io import write_text
from btb.evaluation.scenes import SCENE_NAMES
from btb.video.demo import SPRITE_FACE, _face_sprite, write_demo_video

WIDTH, HEIGHT, FPS = 640, 360, 25


def _background() -> np.ndarray:
    yy, xx = np.mgrid[0:HEIGHT, 0:WIDTH]
    return np.dstack([90 + 50 * xx / WIDTH, 100 + 40 * yy / HEIGHT, 120 + 0 * xx]).astype(np.uint8)


def paste_face(img: np.ndarray, scale: float, centre: tuple[float, float], roll_deg: float = 0.0,
               squeeze: float = 1.0) -> tuple[float, float, float, float]:
    """Paint the photograph's head and shoulders into ``img`` with its face centred at ``centre``, scaled,
    narrowed to ``squeeze`` of its width (a head turning away, roughly) and turned in the image plane by
    ``roll_deg``; return the face's box (x, y, w, h: the axis-aligned box of the turned face box, clipped to
    the frame)."""
    sprite = _face_sprite()
    fx, fy, fw, fh = SPRITE_FACE
    face_c = np.array([fx + fw / 2, fy + fh / 2])
    m = cv2.getRotationMatrix2D((float(face_c[0]), float(face_c[1])), roll_deg, scale)
    m[:, :2] = m[:, :2] @ np.diag([squeeze, 1.0])
    m[:, 2] = np.asarray(centre) - m[:, :2] @ face_c  # the face centre lands on ``centre``
    h, w = img.shape[:2]
    warped = cv2.warpAffine(sprite, m, (w, h), flags=cv2.INTER_LINEAR)
    mask = cv2.warpAffine(np.full(sprite.shape[:2], 255, np.uint8), m, (w, h), flags=cv2.INTER_NEAREST) > 0
    img[mask] = warped[mask]
    corners = np.array([[fx, fy, 1], [fx + fw, fy, 1], [fx, fy + fh, 1], [fx + fw, fy + fh, 1]], float) @ m.T
    x0, y0 = np.clip(corners.min(axis=0), 0, [w, h])
    x1, y1 = np.clip(corners.max(axis=0), 0, [w, h])
    return float(x0), float(y0), float(x1 - x0), float(y1 - y0)


def occluder_scene(n_frames: int = 90) -> tuple[list[np.ndarray], list[tuple[int, float, float, float, float]]]:
    """The ``syn_occluder`` scene: frames and face boxes (frame_index, x, y, w, h)."""
    background = _background()
    frames, boxes = [], []
    for i in range(n_frames):
        t = i / (n_frames - 1)
        img = background.copy()
        left = paste_face(img, 0.45 + 0.6 * t, (150.0, 150.0))
        right = paste_face(img, 0.5, (480.0, 190.0), 35.0 * math.sin(2 * math.pi * i / 30))
        # the bar: 56 px wide, from the right edge to x = 380 and back, passing over the right face twice
        phase = min(i, n_frames - 1 - i) / (n_frames / 2)
        bx = int(WIDTH - phase * (WIDTH - 380) * 1.15)
        img[:, max(0, bx - 28):max(0, bx + 28)] = (35, 35, 40)
        frames.append(img)
        boxes += [(i, *left), (i, *right)]
    return frames, boxes


def turn_scene(n_frames: int = 75) -> tuple[list[np.ndarray], list[tuple[int, float, float, float, float]]]:
    """``syn_turn``: a head turning away and back, approximated by narrowing the photograph to 30 % of its width
    and widening it again (a real profile shows other features; this is the part the detectors lose)."""
    background = _background()
    frames, boxes = [], []
    for i in range(n_frames):
        img = background.copy()
        squeeze = 1.0 - 0.7 * math.sin(math.pi * i / (n_frames - 1))
        boxes.append((i, *paste_face(img, 0.9, (320.0 + 20 * math.sin(2 * math.pi * i / n_frames), 170.0),
                                     squeeze=squeeze)))
        frames.append(img)
    return frames, boxes


def fast_scene(n_frames: int = 60) -> tuple[list[np.ndarray], list[tuple[int, float, float, float, float]]]:
    """``syn_fast``: a face crossing the frame at 56 px a frame and back, with the motion blur of that speed
    (a child moving fast)."""
    background = _background()
    frames, boxes = [], []
    x, step = 90.0, 56.0
    kernel = np.zeros((1, 41), np.float32)
    kernel[0, :] = 1.0 / 41
    for i in range(n_frames):
        img = background.copy()
        box = paste_face(img, 0.6, (x, 180.0))
        frames.append(cv2.filter2D(img, -1, kernel))
        boxes.append((i, *box))
        if not 90 <= x + step <= WIDTH - 90:
            step = -step
        x += step
    return frames, boxes


def small_scene(n_frames: int = 75) -> tuple[list[np.ndarray], list[tuple[int, float, float, float, float]]]:
    """``syn_small``: two child-sized figures far from the camera (faces about 20 and 27 px wide), drifting."""
    background = _background()
    frames, boxes = [], []
    for i in range(n_frames):
        img = background.copy()
        boxes.append((i, *paste_face(img, 0.22, (200.0 + i, 150.0))))
        boxes.append((i, *paste_face(img, 0.3, (450.0 - i, 220.0))))
        frames.append(img)
    return frames, boxes


def edge_scene(n_frames: int = 60) -> tuple[list[np.ndarray], list[tuple[int, float, float, float, float]]]:
    """``syn_edge``: a face entering from the left edge (first a sliver, then whole) and one rising from the
    bottom edge."""
    background = _background()
    frames, boxes = [], []
    for i in range(n_frames):
        t = i / (n_frames - 1)
        img = background.copy()
        boxes.append((i, *paste_face(img, 0.7, (-40.0 + 260.0 * t, 150.0))))
        boxes.append((i, *paste_face(img, 0.6, (470.0, HEIGHT + 40.0 - 200.0 * t))))
        frames.append(img)
    return frames, [b for b in boxes if b[3] > 0 and b[4] > 0]


SCENES: dict[str, Callable[[], tuple[list[np.ndarray], list[tuple[int, float, float, float, float]]]]] = {
    "syn_occluder": occluder_scene,
    "syn_turn": turn_scene,
    "syn_fast": fast_scene,
    "syn_small": small_scene,
    "syn_edge": edge_scene,
}
assert tuple(SCENES) == SCENE_NAMES, "btb.evaluation.scenes names the scenes the workflow plans"


def write_scene(name: str, folder: str | Path) -> tuple[Path, Path]:
    """Write scene ``name`` as ``folder/NAME.mp4`` and ``folder/NAME_gt.csv``; return both paths."""
    frames, boxes = SCENES[name]()
    folder = Path(folder)
    video = write_demo_video(folder / f"{name}.mp4", fps=FPS, seconds=len(frames) / FPS, width=WIDTH,
                             height=HEIGHT, audio=False, tags={}, frames=frames)
    gt = pd.DataFrame(boxes, columns=["frame_index", "x", "y", "w", "h"]).assign(labeled=1)
    gt_path = folder / f"{name}_gt.csv"
    write_text(gt_path, gt.to_csv(index=False, float_format="%.2f"))
    return video, gt_path
