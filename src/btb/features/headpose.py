"""Head pose (yaw, pitch, roll in degrees) from a face detector's five landmarks.

``cv2.solvePnP`` (SQPnP: the global least-squares fit) fits a generic 3-D face to the two eyes, the nose tip
and the two mouth corners, with a pinhole camera whose focal length is the frame width and whose principal
point is the frame centre (the usual approximation for an uncalibrated camera). Five points, four of them
nearly coplanar, leave a mirror ambiguity: of the fits, the one with the face toward the camera is kept.

The generic face (``MODEL``) follows the six-point model of S. Mallick, "Head Pose Estimation using OpenCV and
Dlib" (LearnOpenCV, 2016): nose tip (0, 0, 0), mouth corners (+-150, -150, -125), with the outer eye corners
(+-225, 170, -135) replaced by the eye centres at +-157 (a mean interpupillary distance of 63 mm against the
model's 60 mm mouth width); units of about 0.2 mm, here in camera axes (x right, y down, z away from the
camera).

Angles (``pose_angles``), for a face seen by the camera:

- ``yaw``: positive when the face turns toward the image's right (the person's left);
- ``pitch``: positive when the face tilts up (chin up);
- ``roll``: positive when the head tilts clockwise in the image.

Five points, four of them nearly coplanar, pin roll well and yaw reasonably; pitch depends on the nose's
depth in the generic model and is the least certain (docs/features.md gives measured errors).
"""

from __future__ import annotations

import math

import cv2
import numpy as np

# right eye (the person's right: image left), left eye, nose tip, right and left mouth corner: the landmark
# order of every detection table (btb.regions.tables.LANDMARK_COLUMNS)
MODEL = np.array([
    [-157.0, -170.0, 135.0],
    [157.0, -170.0, 135.0],
    [0.0, 0.0, 0.0],
    [-150.0, 150.0, 125.0],
    [150.0, 150.0, 125.0],
])


MIN_SPREAD_PX = 4.0  # landmarks closer together than this give no usable pose


def camera_matrix(width: int, height: int) -> np.ndarray:
    f = float(width)
    return np.array([[f, 0.0, width / 2.0], [0.0, f, height / 2.0], [0.0, 0.0, 1.0]])


def rotation(yaw: float, pitch: float, roll: float) -> np.ndarray:
    """The rotation (model to camera) of a face at ``yaw``, ``pitch``, ``roll`` degrees (the module's
    conventions): R = Rz(roll) Ry(-yaw) Rx(-pitch)."""
    b, a, g = math.radians(-yaw), math.radians(-pitch), math.radians(roll)
    rx = np.array([[1, 0, 0], [0, math.cos(a), -math.sin(a)], [0, math.sin(a), math.cos(a)]])
    ry = np.array([[math.cos(b), 0, math.sin(b)], [0, 1, 0], [-math.sin(b), 0, math.cos(b)]])
    rz = np.array([[math.cos(g), -math.sin(g), 0], [math.sin(g), math.cos(g), 0], [0, 0, 1]])
    return rz @ ry @ rx


def angles(r: np.ndarray) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees of a rotation built as ``rotation`` builds it."""
    b = math.asin(max(-1.0, min(1.0, -r[2, 0])))
    a = math.atan2(r[2, 1], r[2, 2])
    g = math.atan2(r[1, 0], r[0, 0])
    return -math.degrees(b), -math.degrees(a), math.degrees(g)


def project(yaw: float, pitch: float, roll: float, centre: tuple[float, float], size_px: float, width: int,
            height: int) -> np.ndarray:
    """The five landmarks (5, 2) of the generic face at that pose, its eyes-to-mouth height ``size_px`` pixels,
    centred at ``centre``: what ``pose_angles`` inverts (for tests and synthetic checks)."""
    k = camera_matrix(width, height)
    depth = k[0, 0] * (MODEL[3, 1] - MODEL[0, 1]) / size_px
    t = np.array([(centre[0] - k[0, 2]) * depth / k[0, 0], (centre[1] - k[1, 2]) * depth / k[1, 1], depth])
    pts = (rotation(yaw, pitch, roll) @ MODEL.T).T + t
    return (pts[:, :2] / pts[:, 2:3]) * [k[0, 0], k[1, 1]] + k[:2, 2]


def pose_angles(landmarks: np.ndarray, width: int, height: int) -> tuple[float, float, float]:
    """(yaw, pitch, roll) in degrees from five landmarks (5, 2) in pixels; NaN when they are missing, span less
    than ``MIN_SPREAD_PX`` or the fit fails."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(5, 2)
    if not np.isfinite(pts).all():
        return math.nan, math.nan, math.nan
    spread = float(np.ptp(pts, axis=0).max())
    if spread < MIN_SPREAD_PX:  # landmarks bunched together (a tiny face, a head seen from behind)
        return math.nan, math.nan, math.nan
    k = camera_matrix(width, height)
    try:
        # SQPnP: the global minimum of the reprojection error, fast for a handful of points
        ok, rvec, tvec = cv2.solvePnP(MODEL, pts, k, None, flags=cv2.SOLVEPNP_SQPNP)
        if ok and not _facing(rvec):  # the mirror fit: refine from a frontal face instead
            size = float(np.hypot(*(pts[3:].mean(axis=0) - pts[:2].mean(axis=0))))
            depth = k[0, 0] * (MODEL[3, 1] - MODEL[0, 1]) / max(size, 1.0)
            c = pts.mean(axis=0)
            tvec = np.array([[(c[0] - k[0, 2]) * depth / k[0, 0]], [(c[1] - k[1, 2]) * depth / k[1, 1]], [depth]])
            ok, rvec, tvec = cv2.solvePnP(MODEL, pts, k, None, np.zeros((3, 1)), tvec, useExtrinsicGuess=True,
                                          flags=cv2.SOLVEPNP_ITERATIVE)
    except cv2.error:
        return math.nan, math.nan, math.nan
    if not ok or tvec[2, 0] <= 0 or not _facing(rvec):
        return math.nan, math.nan, math.nan
    return angles(cv2.Rodrigues(rvec)[0])


def _facing(rvec: np.ndarray) -> bool:
    """Whether the fitted face looks toward the camera (its forward axis, -z in the model, has -z in camera)."""
    return bool(cv2.Rodrigues(rvec)[0][2, 2] > 0)
