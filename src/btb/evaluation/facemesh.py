"""A real face with depth, to turn by known angles: the demo's face photograph on its own 3-D face mesh.

The head-pose benchmark needs pictures of a face at known yaw and pitch. Turning a flat photograph in depth
tests nothing (its nose does not stand out), and no labeled set of real head poses is obtainable from the
package registries here. So the photograph (scikit-image's astronaut, public domain) is given a shape:
MediaPipe's Face Mesh model (``face_landmark.tflite`` from the pinned ``mediapipe`` wheel, Apache-2.0;
source ``facemesh_landmark`` in ``btb.models.sources``) places 468 points on the face with their depth, in the
photograph's pixels. Triangulated, textured with the photograph itself (each point's texture position is where
it lies in the photograph) and turned in front of a pinhole camera, it shows the face as a head turning would:
the nose passes in front of the cheek, the far side foreshortens and hides.

The depth is the model's estimate for this face, not a measurement; hair, ears and shoulders are not on the
mesh and are drawn on a plane behind it, with the face's area filled in (no second, flat copy of the face).
Needs TensorFlow's TFLite interpreter (in ``requirements.lock`` for model conversion).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

INPUT_PX = 192  # Face Mesh's input: a square RGB crop in [0, 1]
CROP_MARGIN = 1.5  # the crop's side against the face box's larger side (MediaPipe crops about 1.5x)
MIN_FACE_SCORE = 0.5  # the model's face-presence score (a logit, through the logistic function)


@dataclass(frozen=True)
class TexturedMesh:
    """A triangulated face mesh textured by the picture it was found in."""

    texture: np.ndarray  # BGR picture
    vertices: np.ndarray  # (n, 3): x, y in the picture's pixels; z depth in the same units, away from the camera
    triangles: np.ndarray  # (m, 3) vertex indices
    backdrop: np.ndarray  # the picture with the mesh's area filled in from around it


def face_mesh_points(model_path: str | Path, image: np.ndarray, face_box: tuple[float, float, float, float]
                     ) -> np.ndarray:
    """The 468 Face Mesh points (x, y, z) of the face in ``face_box`` (x, y, w, h) of the BGR ``image``, in the
    image's pixels (z: depth, smaller toward the camera, in the units of x)."""
    import tensorflow as tf  # only the benchmark and its test need it

    x, y, w, h = face_box
    side = CROP_MARGIN * max(w, h)
    x0, y0 = x + w / 2 - side / 2, y + h / 2 - side / 2
    s = INPUT_PX / side
    crop = cv2.warpAffine(image, np.array([[s, 0.0, -x0 * s], [0.0, s, -y0 * s]]), (INPUT_PX, INPUT_PX),
                          flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    interpreter = tf.lite.Interpreter(model_path=str(model_path))
    interpreter.allocate_tensors()
    interpreter.set_tensor(interpreter.get_input_details()[0]["index"],
                           (crop[:, :, ::-1].astype(np.float32) / 255.0)[None])
    interpreter.invoke()
    outputs = {d["name"]: interpreter.get_tensor(d["index"]) for d in interpreter.get_output_details()}
    points, presence = (v for _, v in sorted(outputs.items(), key=lambda kv: -kv[1].size))
    score = 1.0 / (1.0 + math.exp(-float(presence.ravel()[0])))
    if score < MIN_FACE_SCORE:
        raise ValueError(f"Face Mesh sees no face in the box {face_box} (presence {score:.2f})")
    pts = points.reshape(-1, 3).astype(np.float64) / s
    pts[:, :2] += [x0, y0]
    return pts


def textured_mesh(image: np.ndarray, points: np.ndarray) -> TexturedMesh:
    """The mesh of ``points`` (n, 3) over ``image``: Delaunay triangles of their positions in the picture (a face
    seen from the front is a height field over them), and a backdrop with the face's area filled in."""
    from scipy.spatial import Delaunay

    triangles = Delaunay(points[:, :2]).simplices.astype(np.int64)
    hull = cv2.convexHull(points[:, :2].astype(np.float32)).astype(np.int32)
    mask = np.zeros(image.shape[:2], np.uint8)
    cv2.fillConvexPoly(mask, hull, 255)
    mask = cv2.dilate(mask, np.ones((5, 5), np.uint8))
    backdrop = cv2.inpaint(image, mask, 7, cv2.INPAINT_TELEA)
    return TexturedMesh(image, points, triangles, backdrop)


def render(mesh: TexturedMesh, rotation: np.ndarray, camera: np.ndarray, size: tuple[int, int], scale: float,
           distance: float, background: int = 128) -> np.ndarray:
    """Picture (BGR, ``size`` = width, height) of ``mesh`` turned by ``rotation`` (3x3, model to camera) about
    the mesh's centre, ``scale`` camera units per texture pixel, the centre ``distance`` in front of the
    pinhole ``camera`` (3x3) on its axis. Triangles are painted far to near; those seen from behind are left
    out. The backdrop is a plane through the depth of the face's edge, turned with it (and, like the
    triangles, not drawn when seen from behind)."""
    width, height = size
    f = camera[0, 0]
    centre = np.array([*mesh.vertices[:, :2].mean(axis=0), 0.0])

    def project(points: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        cam = (rotation @ ((points - centre) * scale).T).T + [0.0, 0.0, distance]
        return cam[:, :2] / cam[:, 2:3] * f + camera[:2, 2], cam[:, 2]

    canvas = np.full((height, width, 3), background, np.uint8)
    if rotation[2, 2] > 0:  # the backdrop's front faces the camera
        _draw_backdrop(canvas, mesh, project)
    img_pts, depth = project(mesh.vertices)
    for tri in mesh.triangles[np.argsort(-depth[mesh.triangles].mean(axis=1))]:
        src = mesh.vertices[tri, :2].astype(np.float32)
        dst = img_pts[tri].astype(np.float32)
        if _signed_area(src) * _signed_area(dst) <= 0:  # turned away from the camera (or edge-on)
            continue
        x, y, bw, bh = cv2.boundingRect(dst)
        x, y = max(x - 1, 0), max(y - 1, 0)
        bw, bh = min(bw + 2, width - x), min(bh + 2, height - y)
        if bw <= 0 or bh <= 0:
            continue
        affine = cv2.getAffineTransform(src, dst - np.float32([x, y]))
        patch = cv2.warpAffine(mesh.texture, affine, (bw, bh), flags=cv2.INTER_LINEAR,
                               borderMode=cv2.BORDER_REFLECT)
        tri_mask = np.zeros((bh, bw), np.uint8)
        cv2.fillConvexPoly(tri_mask, np.round(dst - [x, y]).astype(np.int32), 255)
        tri_mask = cv2.dilate(tri_mask, np.ones((2, 2), np.uint8))  # no seams between neighbours
        region = canvas[y:y + bh, x:x + bw]
        region[tri_mask > 0] = patch[tri_mask > 0]
    return canvas


def _draw_backdrop(canvas: np.ndarray, mesh: TexturedMesh,
                   project: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]]) -> None:
    height, width = canvas.shape[:2]
    h, w = mesh.backdrop.shape[:2]
    z_edge = float(np.percentile(mesh.vertices[:, 2], 95))
    corners = np.array([[0, 0, z_edge], [w, 0, z_edge], [w, h, z_edge], [0, h, z_edge]], dtype=np.float64)
    corners_img, _ = project(corners)
    hmat = cv2.getPerspectiveTransform(corners[:, :2].astype(np.float32), corners_img.astype(np.float32))
    inside = cv2.warpPerspective(np.full((h, w), 255, np.uint8), hmat, (width, height)) > 0
    canvas[inside] = cv2.warpPerspective(mesh.backdrop, hmat, (width, height), flags=cv2.INTER_LINEAR)[inside]


def _signed_area(tri: np.ndarray) -> float:
    (ax, ay), (bx, by), (cx, cy) = tri
    return float((bx - ax) * (cy - ay) - (by - ay) * (cx - ax))
