"""BlazePose (MediaPipe 0.10.21, Apache-2.0) on onnxruntime: people, their 33 body landmarks, and from those a
head box and hand boxes that do not depend on a face being visible.

Two models, taken from the ``mediapipe==0.10.21`` wheel and converted to ONNX at staging
(``btb.models.convert.convert_tflite``):

1. ``pose_detection`` (input 224x224 RGB in [-1, 1], letterboxed): 2,254 SSD anchors, each a box and four
   keypoints, of which the first two (mid-hip and a point on the circle around the whole body) give the
   person's region of interest: centred on the hips, twice the hip-to-circle distance wide (x1.25), turned so
   that the body is upright. Decoding follows MediaPipe's ``pose_detection_cpu`` graph (anchors: 5 layers,
   strides 8, 16, 32, 32, 32, fixed size; sigmoid scores; non-maximum suppression at IoU 0.3).
2. ``pose_landmark_full`` (input 256x256 RGB in [0, 1], the rotated region): 39 landmarks of five values
   (x, y, z, visibility and presence logits); the first 33 are the body's (0 nose, 1-6 eyes, 7-8 ears,
   9-10 mouth, 11-12 shoulders, 15-16 wrists, 17-22 hand points ...), and a person score.

The **head box** of a person is the square around the head landmarks (0-10), at least as wide as 0.6 of the
shoulder width, enlarged by ``head_scale``: the landmark model places them from the whole body, so a face
turned away, in profile or blurred by motion still has a head box. **Hand boxes** are squares around each
wrist and its three hand points. The person detector finds one person a picture best; it runs again with the
heads already found painted over, so a parent and a child are both found.
"""

from __future__ import annotations

import math
import zipfile
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from btb.detect.base import RawDetections
from btb.regions.boxes import iou_matrix, nms

MEMBERS = {"detector": "pose_detection.onnx", "landmarks": "pose_landmark_full.onnx"}  # of the staged zip
DETECTOR_SIZE = 224
LANDMARK_SIZE = 256
N_LANDMARKS = 33
HEAD = list(range(11))  # nose, eyes (inner, centre, outer), ears, mouth corners
FACE_FEATURES = list(range(7)) + [9, 10]  # nose, eyes, mouth: what a blur must hide
SHOULDERS = (11, 12)
HANDS = {"left": (15, 17, 19, 21), "right": (16, 18, 20, 22)}  # wrist, pinky, index, thumb


def ssd_anchors() -> np.ndarray:
    """Anchor centres (N, 2), normalised, in MediaPipe's order for the pose detector (2,254 of them)."""
    strides = [8, 16, 32, 32, 32]
    centres = []
    layer = 0
    while layer < len(strides):
        # layers with the same stride share one feature map: 2 anchors per layer per cell
        same = 0
        while layer + same < len(strides) and strides[layer + same] == strides[layer]:
            same += 1
        size = math.ceil(DETECTOR_SIZE / strides[layer])
        yy, xx = np.mgrid[0:size, 0:size]
        cells = np.stack([(xx.ravel() + 0.5) / size, (yy.ravel() + 0.5) / size], axis=1)
        centres.append(np.repeat(cells, 2 * same, axis=0))
        layer += same
    return np.concatenate(centres).astype(np.float32)


ANCHORS = ssd_anchors()


@dataclass(frozen=True)
class Person:
    """One person in a frame: detection score, landmark score, landmarks (33, 4: x, y in frame pixels,
    visibility, presence), and the derived head box and hand boxes (x, y, w, h)."""

    detection_score: float
    score: float
    landmarks: np.ndarray
    head: np.ndarray
    hands: np.ndarray  # (2, 4): left, right


def letterbox(image: np.ndarray, size: int) -> tuple[np.ndarray, float, float, float]:
    """The image scaled to fit ``size`` x ``size`` and padded (centred); returns (pixels, scale, pad x, pad y)."""
    h, w = image.shape[:2]
    scale = size / max(h, w)
    nw, nh = max(1, round(w * scale)), max(1, round(h * scale))
    resized = cv2.resize(image, (nw, nh), interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)
    out = np.zeros((size, size, 3), dtype=image.dtype)
    px, py = (size - nw) // 2, (size - nh) // 2
    out[py:py + nh, px:px + nw] = resized
    return out, scale, float(px), float(py)


def decode_detections(raw_boxes: np.ndarray, raw_scores: np.ndarray, min_score: float, nms_iou: float = 0.3,
                      max_people: int = 8) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(boxes (N, 4) x, y, w, h, keypoints (N, 4, 2), scores (N,)), in the detector's 224-px input, from its
    outputs for one image: (2254, 12) and (2254,) logits."""
    scores = 1.0 / (1.0 + np.exp(-np.clip(raw_scores.reshape(-1).astype(np.float64), -100, 100)))
    keep = np.flatnonzero(scores >= min_score)
    if not len(keep):
        return np.zeros((0, 4)), np.zeros((0, 4, 2)), np.zeros(0)
    r = raw_boxes[keep].astype(np.float64)
    a = ANCHORS[keep].astype(np.float64) * DETECTOR_SIZE
    cx, cy = r[:, 0] + a[:, 0], r[:, 1] + a[:, 1]
    w, h = r[:, 2], r[:, 3]
    boxes = np.stack([cx - w / 2, cy - h / 2, w, h], axis=1)
    kps = r[:, 4:12].reshape(-1, 4, 2) + a[:, None, :]
    order = nms(boxes, scores[keep], nms_iou)[:max_people]
    return boxes[order], kps[order], scores[keep][order]


def roi_from_keypoints(hip: np.ndarray, circle: np.ndarray, scale: float = 1.25) -> tuple[np.ndarray, float, float]:
    """The person's region: (centre, side, rotation in radians) from the mid-hip and full-body circle points
    (frame pixels); rotation turns the hip-to-head direction upright."""
    dx, dy = circle - hip
    side = 2.0 * math.hypot(dx, dy) * scale
    rotation = math.pi / 2 - math.atan2(-dy, dx)
    rotation = rotation - 2 * math.pi * math.floor((rotation + math.pi) / (2 * math.pi))
    return hip.astype(np.float64), side, rotation


def roi_transform(centre: np.ndarray, side: float, rotation: float, size: int = LANDMARK_SIZE) -> np.ndarray:
    """The 2x3 affine map from frame pixels to the ``size`` x ``size`` crop of the region."""
    c, s = math.cos(rotation), math.sin(rotation)
    k = size / max(side, 1e-6)
    # crop = k * R(-rotation) (p - centre) + size / 2
    m = np.array([[c, s], [-s, c]]) * k
    t = size / 2 - m @ centre
    return np.hstack([m, t[:, None]])


def read_blazepose(path: str | Path) -> dict[str, bytes]:
    """The two ONNX models of a staged BlazePose file: {'detector': bytes, 'landmarks': bytes}."""
    with zipfile.ZipFile(path) as zf:
        return {part: zf.read(name) for part, name in MEMBERS.items()}


FACE_5 = [5, 2, 0, 10, 9]  # right eye, left eye, nose, right and left mouth corner (YuNet's landmark order)


def heads(people: list[Person]) -> RawDetections:
    """The people's head boxes as detections."""
    if not people:
        return RawDetections.empty()
    return RawDetections(
        boxes=np.array([p.head for p in people], dtype=np.float64),
        scores=np.array([p.score for p in people], dtype=np.float64),
        landmarks=np.array([p.landmarks[FACE_5, :2].reshape(-1) for p in people], dtype=np.float64),
        scale=np.ones(len(people)))


def head_box(landmarks: np.ndarray, head_scale: float) -> np.ndarray:
    """Square head box (x, y, w, h) around landmarks 0-10, at least 0.6 shoulder widths across (before
    ``head_scale``): the landmarks of a head turned away bunch together, and a child's head is wide for its
    shoulders."""
    pts = landmarks[HEAD, :2]
    centre = (pts.min(axis=0) + pts.max(axis=0)) / 2
    extent = float(np.ptp(pts, axis=0).max())
    shoulders = float(np.hypot(*(landmarks[SHOULDERS[0], :2] - landmarks[SHOULDERS[1], :2])))
    side = max(extent, 0.6 * shoulders) * head_scale
    return np.array([centre[0] - side / 2, centre[1] - side / 2, side, side])


def hand_boxes(landmarks: np.ndarray) -> np.ndarray:
    """(2, 4): a square around each wrist and its hand points (left, right), enlarged 1.8x, at least as wide
    as a third of the shoulder width."""
    shoulders = float(np.hypot(*(landmarks[SHOULDERS[0], :2] - landmarks[SHOULDERS[1], :2])))
    out = []
    for idx in HANDS.values():
        pts = landmarks[list(idx), :2]
        centre = pts.mean(axis=0)
        side = max(float(np.ptp(pts, axis=0).max()) * 1.8, shoulders / 3)
        out.append([centre[0] - side / 2, centre[1] - side / 2, side, side])
    return np.array(out)


class PoseDetector:
    """BlazePose on onnxruntime. ``detect(image)`` -> list of Person in frame pixels."""

    name = "pose"

    def __init__(self, model: str, threads: int = 1, device: str = "cpu", min_detection: float = 0.5,
                 min_person: float = 0.5, head_scale: float = 1.6, max_people: int = 8) -> None:
        import onnxruntime as ort

        from btb.detect.retinaface import choose_providers, session_options

        blobs = read_blazepose(model)
        opts = session_options(int(threads))  # worker threads that sleep, not spin, when idle
        self.providers = choose_providers(device, "BlazePose")
        self.det = ort.InferenceSession(blobs["detector"], opts, providers=self.providers)
        self.lmk = ort.InferenceSession(blobs["landmarks"], opts, providers=self.providers)
        self.people: list[Person] = []  # the people of the last ``detect`` call (their hands explain flags)
        self.det_in = self.det.get_inputs()[0].name
        self.lmk_in = self.lmk.get_inputs()[0].name
        self.det_out = [o.name for o in self.det.get_outputs()]
        self.lmk_out = [o.name for o in self.lmk.get_outputs()]
        self.min_detection, self.min_person = float(min_detection), float(min_person)
        self.head_scale, self.max_people = float(head_scale), int(max_people)

    def _outputs(self, outs: list[np.ndarray], names: list[str]) -> dict[str, np.ndarray]:
        return dict(zip(names, outs, strict=True))

    def detect(self, image: np.ndarray) -> RawDetections:
        """Head boxes in a BGR frame, as a face detector reports faces: box, score (the landmark model's person
        score), five landmarks (eyes, nose tip, mouth corners, in YuNet's order) and pass scale 1. The people
        themselves are kept in ``people``."""
        self.people = self.detect_people(image)
        return heads(self.people)

    def detect_people(self, image: np.ndarray) -> list[Person]:
        """People in a BGR frame.

        The person detector was trained for one person a picture: with a parent and a child in view it often
        reports only the more prominent one. So it runs again with the heads found so far painted over (grey,
        in its input), until it finds no one new or ``max_people`` are found."""
        rgb = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
        boxed, scale, px, py = letterbox(rgb, DETECTOR_SIZE)
        inp = boxed.astype(np.float32) / 127.5 - 1.0
        people: list[Person] = []
        for _ in range(self.max_people):
            found = self._detect_round(inp, rgb, scale, px, py, people)
            if not found:
                break
            people += found
            for p in found:  # hide the new heads from the next round
                x, y, w, h = p.head * scale + np.array([px, py, 0, 0])
                x0, y0 = max(0, int(x - 0.1 * w)), max(0, int(y - 0.1 * h))
                x1, y1 = min(DETECTOR_SIZE, int(np.ceil(x + 1.1 * w))), min(DETECTOR_SIZE, int(np.ceil(y + 1.1 * h)))
                inp[y0:y1, x0:x1] = 0.0
        return people[: self.max_people]

    def _detect_round(self, inp: np.ndarray, rgb: np.ndarray, scale: float, px: float, py: float,
                      known: list[Person]) -> list[Person]:
        """The people the detector finds in ``inp`` whose heads are not among the ``known`` ones."""
        out = self._outputs(self.det.run(None, {self.det_in: inp[None]}), self.det_out)
        raw_boxes = next(v for v in out.values() if v.shape[-1] == 12)[0]
        raw_scores = next(v for v in out.values() if v.shape[-1] == 1)[0]
        _, kps, scores = decode_detections(raw_boxes, raw_scores, self.min_detection, max_people=self.max_people)
        people: list[Person] = []
        for kp, det_score in zip(kps, scores, strict=True):
            person = self._landmarks(rgb, (kp - np.array([px, py])) / scale, float(det_score))
            if person is None:
                continue
            heads_so_far = np.array([p.head for p in [*known, *people]]).reshape(-1, 4)
            if len(heads_so_far) and (iou_matrix(person.head[None], heads_so_far) > 0.3).any():
                continue  # the same person again
            people.append(person)
        return people

    def _landmarks(self, rgb: np.ndarray, frame_kp: np.ndarray, det_score: float) -> Person | None:
        """The landmark model on the region a detection's keypoints give (frame pixels); None below
        ``min_person``."""
        centre, side, rotation = roi_from_keypoints(frame_kp[0], frame_kp[1])
        m = roi_transform(centre, side, rotation)
        crop = cv2.warpAffine(rgb, m, (LANDMARK_SIZE, LANDMARK_SIZE), flags=cv2.INTER_LINEAR,
                              borderMode=cv2.BORDER_CONSTANT)
        lo = self._outputs(self.lmk.run(None, {self.lmk_in: crop.astype(np.float32)[None] / 255.0}), self.lmk_out)
        raw = next(v for v in lo.values() if v.shape[-1] == 195)[0].reshape(39, 5)[:N_LANDMARKS]
        flag = float(next(v for v in lo.values() if v.shape == (1, 1)).reshape(-1)[0])
        if flag < self.min_person:
            return None
        inv = cv2.invertAffineTransform(m)
        xy = raw[:, :2] @ inv[:, :2].T + inv[:, 2]
        vis = 1.0 / (1.0 + np.exp(-raw[:, 3]))
        pres = 1.0 / (1.0 + np.exp(-raw[:, 4]))
        lm = np.column_stack([xy, vis, pres])
        return Person(det_score, flag, lm, head_box(lm, self.head_scale), hand_boxes(lm))
