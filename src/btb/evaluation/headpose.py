"""Head-pose accuracy on pictures with a known pose.

A real face photograph (scikit-image's astronaut, the demo's face) is turned by a known yaw, pitch and roll in
front of the camera model ``btb.features.headpose`` uses (focal length = image width). A face detector's
landmarks on the picture give the estimated pose. Two kinds of picture:

* ``mesh_pictures``: the photograph on its own 3-D face mesh (``btb.evaluation.facemesh``), turned like a
  head: the nose stands out, the far cheek hides. This is the measure of yaw and pitch.
* ``posed_picture``: the photograph as a *flat* plane, turned (a homography). Exact for roll (an in-plane
  turn); for yaw and pitch a flat face reads far less turn than there is (kept for comparison).

No labeled set of real head poses is obtainable from the package registries here.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from btb.features.headpose import camera_matrix, pose_angles, rotation

WIDTH, HEIGHT = 640, 480
FACE_PX = 150.0  # the face box's height in the picture when frontal


def posed_picture(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The demo's face photograph turned by ``yaw``, ``pitch``, ``roll`` degrees about its face centre, at the
    image centre (``btb.features.headpose`` conventions)."""
    from btb.video.demo import SPRITE_FACE, _face_sprite

    sprite = _face_sprite()
    fx, fy, fw, fh = SPRITE_FACE
    k = camera_matrix(WIDTH, HEIGHT)
    scale = FACE_PX / fh
    depth = k[0, 0] * 1.0  # plane units: pixels of the frontal face at this depth
    h, w = sprite.shape[:2]
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], dtype=np.float64)
    centre = np.array([fx + fw / 2, fy + fh / 2])
    plane = np.c_[(corners - centre) * scale, np.zeros(4)]
    cam = (rotation(yaw, pitch, roll) @ plane.T).T + [0.0, 0.0, depth]
    img_pts = cam[:, :2] / cam[:, 2:3] * k[0, 0] + k[:2, 2]
    hmat = cv2.getPerspectiveTransform(corners.astype(np.float32), img_pts.astype(np.float32))
    canvas = np.full((HEIGHT, WIDTH, 3), 128, np.uint8)
    mask = cv2.warpPerspective(np.full(sprite.shape[:2], 255, np.uint8), hmat, (WIDTH, HEIGHT)) > 0
    warped = cv2.warpPerspective(sprite, hmat, (WIDTH, HEIGHT), flags=cv2.INTER_LINEAR)
    canvas[mask] = warped[mask]
    return canvas


Picture = Callable[[float, float, float], np.ndarray]


def mesh_pictures(facemesh_model: str | Path) -> Picture:
    """A function of (yaw, pitch, roll) giving the demo's face photograph on its 3-D face mesh at that pose, at
    the image centre, its face box ``FACE_PX`` high when frontal (``btb.features.headpose`` conventions)."""
    from btb.evaluation.facemesh import face_mesh_points, render, textured_mesh
    from btb.video.demo import SPRITE_FACE, _face_sprite

    sprite = _face_sprite()
    mesh = textured_mesh(sprite, face_mesh_points(facemesh_model, sprite, SPRITE_FACE))
    k = camera_matrix(WIDTH, HEIGHT)

    def picture(yaw: float, pitch: float, roll: float) -> np.ndarray:
        return render(mesh, rotation(yaw, pitch, roll), k, (WIDTH, HEIGHT), FACE_PX / SPRITE_FACE[3], k[0, 0])

    return picture


def sweep() -> list[tuple[str, float, float, float]]:
    """(axis, yaw, pitch, roll) of the measured poses: each angle alone, roll to +-35, yaw to +-45, pitch to
    +-30 degrees, every 5."""
    out = [("roll", 0.0, 0.0, float(a)) for a in range(-35, 36, 5)]
    out += [("yaw", float(a), 0.0, 0.0) for a in range(-45, 46, 5)]
    out += [("pitch", 0.0, float(a), 0.0) for a in range(-30, 31, 5)]
    return out


def measure(landmarks_of: Callable[[np.ndarray], np.ndarray | None],
            axes: tuple[str, ...] = ("roll", "yaw", "pitch"), picture: Picture = posed_picture) -> pd.DataFrame:
    """One row per posed picture: the true and estimated angles and the error of the turned one (against the
    estimate on the unturned picture).
    ``landmarks_of``: the five landmarks (5, 2) of the strongest face a detector finds, or None.
    ``picture``: the pictures' maker (``posed_picture``, or one from ``mesh_pictures``)."""
    def estimate(yaw: float, pitch: float, roll: float) -> tuple[float, float, float]:
        lm = landmarks_of(picture(yaw, pitch, roll))
        return pose_angles(lm, WIDTH, HEIGHT) if lm is not None else (math.nan,) * 3

    # the photograph's own pose (the astronaut's head is not exactly frontal and upright) is unknown: angles are
    # measured as the change from the unturned picture
    base = estimate(0.0, 0.0, 0.0)
    rows = []
    for axis, yaw, pitch, roll in sweep():
        if axis not in axes:
            continue
        est = estimate(yaw, pitch, roll)
        k = ("yaw", "pitch", "roll").index(axis)
        true = (yaw, pitch, roll)[k]
        rows.append({"axis": axis, "true_deg": true, "yaw_est": est[0], "pitch_est": est[1], "roll_est": est[2],
                     "error_deg": est[k] - base[k] - true})
    out = pd.DataFrame(rows)
    out.attrs["unturned"] = dict(zip(("yaw", "pitch", "roll"), base, strict=True))
    return out


def summarise(rows: pd.DataFrame) -> dict[str, Any]:
    """Per angle and range of |true angle| (0-15, 15-30, 30-45): pictures, found, mean and max absolute error,
    and the mean signed error (bias)."""
    out: dict[str, Any] = {}
    for axis, g in rows.groupby("axis", sort=False):
        for lo, hi in ((0, 15), (15, 30), (30, 45)):
            part = g[(g["true_deg"].abs() >= lo) & (g["true_deg"].abs() <= hi) if lo == 0 else
                     (g["true_deg"].abs() > lo) & (g["true_deg"].abs() <= hi)]
            if not len(part):
                continue
            err = part["error_deg"].dropna()
            out[f"{axis} {lo}-{hi}"] = {
                "pictures": len(part), "found": len(err),
                "mean_abs_error_deg": round(float(err.abs().mean()), 2) if len(err) else None,
                "max_abs_error_deg": round(float(err.abs().max()), 2) if len(err) else None,
                "bias_deg": round(float(err.mean()), 2) if len(err) else None}
    return out
