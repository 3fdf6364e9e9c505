"""Residual verification: find faces on the de-identified output and flag any not inside a blur region.

A detection is a **flag** when less than ``min_covered`` of its box lies inside the frame's blurred pixels
(the same mask the blur painted, ``btb.blur.region_mask``): a face the pipeline did not blur, or blurred only
in part. Blurred faces are seldom found again; what is found inside a region is not a flag. Every output frame
is checked these ways:

- every face detector's detections stored for the *input* (``input_flags_in_frame``, detector name suffixed
  ``:input``): any at or above its verification threshold that the blur does not cover is a flag. Outside the
  blur the output shows the input's pixels (the render check below makes sure of it), so a detector run again
  on the output finds the same faces there; what it adds is faces of its own making around the blur (a
  blurred head found again as a larger "face" with its landmarks on the chest, a pattern beside a blur);
- the head locator's heads found on the input (``heads``), against the output's blur;
- fast motion no checked detection explains (``btb.release.motion``, ``verify.motion``): a face smeared by its
  own speed, which none of the detectors sees;
- the file against its regions (``btb.release.render``, ``verify.render``): each output frame compared with
  its input frame blurred by the region table. This checks the encoded file itself, with no detector: an
  encoder that drops the blur, regions painted on the wrong frames or places, content that is not the input's;
- optionally, the ``redetect`` face detectors (``verify.redetect``, none by default) run again on the output
  at a low threshold; a detector named there is not also checked from its stored detections (unless
  ``every`` > 1: then it runs on every ``every``-th output frame only, and its stored detections are checked
  on every frame).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from btb.evaluation.metrics import coverage
from btb.regions.blur import region_mask
from btb.release.motion import MOTION, MotionCheck
from btb.release.render import RenderCheck

FLAG_COLUMNS = {"frame_index": "int64", "detector": "string", "score": "float64", "x": "float64",
                "y": "float64", "w": "float64", "h": "float64", "covered": "float64",
                "features_covered": "float64", "explained": "string"}
POSE = "pose"  # the body-landmark head locator (btb.detect.pose), when enabled
LANDMARK_COLUMNS = [f"lm{i}_{a}" for i in range(5) for a in "xy"]


@dataclass(frozen=True)
class ResidualParams:
    """The ``verify`` section of the configuration (defaults in its schema)."""

    thresholds: dict[str, float]  # detector -> score at or above which a detection is considered
    min_covered: float
    every: int  # detect on every n-th output frame (1: all); > 1 adds the stored-detection check

    def __post_init__(self) -> None:
        if not 0 < self.min_covered <= 1:
            raise ValueError("min_covered must be in (0, 1]")
        if self.every < 1:
            raise ValueError("every must be >= 1")

    def detects(self, frame_index: int) -> bool:
        """Whether the detectors run on this output frame."""
        return frame_index % self.every == 0


def empty_flags() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in FLAG_COLUMNS.items()})


def frame_mask(image_shape: tuple[int, ...], regions: pd.DataFrame) -> np.ndarray:
    """The blurred pixels of one frame (``btb.blur.region_mask``; none without regions)."""
    h, w = image_shape[:2]
    return region_mask(h, w, regions) if len(regions) else np.zeros((h, w), dtype=bool)


def features_covered(landmarks: np.ndarray, mask: np.ndarray, radius: int = 0) -> float:
    """Share of a detection's five landmarks (eyes, nose tip, mouth corners; x0, y0, ... x4, y4) that lie on
    blurred pixels, each with every pixel within ``radius`` of it (a square) blurred too: a point just inside
    the edge of a misplaced blur does not count. A landmark outside the frame is not shown, so it counts as
    covered. NaN without landmarks."""
    pts = np.asarray(landmarks, dtype=np.float64).reshape(-1, 2)
    if len(pts) == 0 or not np.isfinite(pts).all() or not pts.any():
        return math.nan
    h, w = mask.shape
    inside = 0
    for x, y in pts:
        xi, yi = int(np.floor(x)), int(np.floor(y))
        if not (0 <= xi < w and 0 <= yi < h):
            inside += 1
            continue
        patch = mask[max(0, yi - radius):yi + radius + 1, max(0, xi - radius):xi + radius + 1]
        inside += int(patch.all())
    return inside / len(pts)


def landmark_radius(box_w: float, box_h: float) -> int:
    """The neighbourhood a landmark must have blurred around it: 8 % of the box's larger side, at least 1 px."""
    return max(1, round(0.08 * max(box_w, box_h)))


def _uncovered(frame_index: int, label: str, boxes: np.ndarray, scores: np.ndarray, mask: np.ndarray,
               min_covered: float, landmarks: np.ndarray | None = None) -> list[tuple]:
    rows = []
    for i, (box, score) in enumerate(zip(boxes, scores, strict=True)):
        cov = coverage(box, mask)
        if not np.isnan(cov) and cov < min_covered:
            feat = (features_covered(landmarks[i], mask, landmark_radius(box[2], box[3])) if landmarks is not None
                    else math.nan)
            rows.append((frame_index, label, float(score), *map(float, box), float(cov), feat))
    return rows


def flags_in_frame(frame_index: int, image_shape: tuple[int, ...], regions: pd.DataFrame,
                   detections: dict[str, Any], params: ResidualParams, mask: np.ndarray | None = None
                   ) -> list[tuple]:
    """Flags of one frame: ``detections`` maps detector name -> RawDetections found on the output frame.
    ``mask``: the frame's blurred pixels when already computed (``frame_mask``)."""
    mask = frame_mask(image_shape, regions) if mask is None else mask
    rows = []
    for name, d in detections.items():
        keep = d.scores >= params.thresholds[name]
        rows += _uncovered(frame_index, name, d.boxes[keep], d.scores[keep], mask, params.min_covered,
                           d.landmarks[keep])
    return rows


@dataclass(frozen=True)
class Stored:
    """One frame's stored input detections of one detector, as arrays."""

    boxes: np.ndarray  # (n, 4) x, y, w, h
    scores: np.ndarray  # (n,)
    landmarks: np.ndarray | None  # (n, 10), when the table has them


def as_stored(rows: pd.DataFrame) -> Stored:
    """Rows of a detection table (one frame's) as arrays."""
    lms = rows[LANDMARK_COLUMNS].to_numpy(dtype=np.float64) if set(LANDMARK_COLUMNS) <= set(rows.columns) else None
    return Stored(rows[["x", "y", "w", "h"]].to_numpy(dtype=np.float64), rows["score"].to_numpy(dtype=np.float64),
                  lms)


def stored_by_frame(table: pd.DataFrame) -> dict[int, Stored]:
    """A detection table split by frame index, in one pass (no per-frame DataFrame)."""
    if table.empty:
        return {}
    index = table["frame_index"].to_numpy(dtype=np.int64)
    order = np.argsort(index, kind="stable")
    index = index[order]
    whole = as_stored(table)
    starts = np.flatnonzero(np.r_[True, index[1:] != index[:-1]])
    ends = np.r_[starts[1:], len(index)]
    lms = None if whole.landmarks is None else whole.landmarks[order]
    boxes, scores = whole.boxes[order], whole.scores[order]
    return {int(index[a]): Stored(boxes[a:b], scores[a:b], None if lms is None else lms[a:b])
            for a, b in zip(starts, ends, strict=True)}


def input_flags_in_frame(frame_index: int, image_shape: tuple[int, ...], regions: pd.DataFrame,
                         stored: dict[str, Stored | pd.DataFrame], params: ResidualParams,
                         mask: np.ndarray | None = None, suffix: str = ":input") -> list[tuple]:
    """Flags of one frame from the detections stored for the input (``stored``: detector -> that frame's
    detections, ``Stored`` or rows of its detection table, output-frame pixels), named ``<detector>:input``. The
    mask is only computed (unless given) when a stored detection reaches its threshold."""
    rows = []
    for name, d in stored.items():
        d = as_stored(d) if isinstance(d, pd.DataFrame) else d
        keep = d.scores >= params.thresholds[name]
        if not keep.any():
            continue
        mask = frame_mask(image_shape, regions) if mask is None else mask
        rows += _uncovered(frame_index, f"{name}{suffix}", d.boxes[keep], d.scores[keep], mask, params.min_covered,
                           None if d.landmarks is None else d.landmarks[keep])
    return rows


def explain_flags(rows: list[tuple], people: list[Any], mask: np.ndarray) -> list[tuple]:
    """Flags of one frame with ``explained`` filled from the people the head locator found on the same frame
    of the input (``btb.detect.pose.Person``), for face-detector flags only:

    - ``on_head``: the flag is on a located head (its centre inside the head box, or a head landmark inside
      the flag's box) whose nose, eyes and mouth are not all blurred. This is the case to review: it keeps the
      flag open, whatever else applies.
    - ``features_blurred``: the flag's centre is inside a located head's box, that head's nose, eyes and mouth
      all lie on blurred pixels, and so do most (>= 0.6) of the flag's own landmarks: the detector found a
      blurred head again. (A second face beside a blurred one has its own landmarks outside the blur.)
    - ``hand``: no head landmark of anyone (nose, eyes, ears, mouth) lies inside the flag's box, a hand the
      locator sees (hand points' visibility >= 0.5) is in it (the hand's centre inside the flag's box, or the
      flag's centre inside the hand's box), and the flag's box is at most four times the hand's area.
    A flag on no located person stays unexplained (empty). Motion flags (``btb.release.motion``) are explained
    by ``explain_motion``."""
    from btb.detect.pose import HEAD

    if not people:
        return [(*r[:9], "") for r in rows]
    head_pts = np.concatenate([p.landmarks[HEAD, :2] for p in people])
    out = []
    for r in rows:
        why = ""
        x, y, w, h = r[3:7]
        own = r[8]
        if r[1] == MOTION:
            why = explain_motion((x, y, w, h), people, mask)
        elif r[1] != POSE:
            cx, cy = x + w / 2, y + h / 2

            def inside(pts: np.ndarray, bx: float = x, by: float = y, bw: float = w, bh: float = h) -> np.ndarray:
                return (pts[:, 0] >= bx) & (pts[:, 0] <= bx + bw) & (pts[:, 1] >= by) & (pts[:, 1] <= by + bh)

            head_in_flag = bool(inside(head_pts).any())
            blurred_heads, open_heads = 0, 0
            for p in people:
                centred = p.head[0] <= cx <= p.head[0] + p.head[2] and p.head[1] <= cy <= p.head[1] + p.head[3]
                if not (centred or inside(p.landmarks[HEAD, :2]).any()):
                    continue
                hidden = _features_hidden(p, mask)
                if hidden and centred and not np.isnan(own) and own >= 0.6:
                    blurred_heads += 1
                else:
                    open_heads += 1
            if open_heads:
                why = "on_head"
            elif blurred_heads:
                why = "features_blurred"
            elif not head_in_flag:
                for p in people:
                    for hx, hy, hw, hh in _seen_hands(p):
                        hand_c = np.array([[hx + hw / 2, hy + hh / 2]])
                        in_hand = hx <= cx <= hx + hw and hy <= cy <= hy + hh
                        if (in_hand or inside(hand_c).any()) and w * h <= 4 * hw * hh:
                            why = "hand"
                    if why:
                        break
        out.append((*r[:9], why))
    return out


def explain_motion(box: tuple[float, float, float, float], people: list[Any], mask: np.ndarray) -> str:
    """Why a fast region (a ``motion`` flag's box) is not a face to review, from the people the head locator
    found on the same input frame: ``on_head`` (kept open) when a person's head landmarks lie inside it and
    that person's nose, eyes and mouth are not all blurred; ``hand`` when a hand the locator sees has its
    centre inside it (and no such head is in it); ``body`` when it lies on a person the locator sees
    (at least half of it inside the box of their visible landmarks) and holds no such head: an arm or a body in
    motion, whose head the locator places and verification checks itself (its ``pose`` flags); else empty."""
    from btb.detect.pose import HEAD

    x, y, w, h = box
    for p in people:
        pts = p.landmarks[HEAD, :2]
        inside = (pts[:, 0] >= x) & (pts[:, 0] <= x + w) & (pts[:, 1] >= y) & (pts[:, 1] <= y + h)
        if inside.any() and not _features_hidden(p, mask):
            return "on_head"
    for p in people:
        for hx, hy, hw, hh in _seen_hands(p):
            cx, cy = hx + hw / 2, hy + hh / 2
            if x <= cx <= x + w and y <= cy <= y + h:
                return "hand"
    for p in people:
        seen = p.landmarks[p.landmarks[:, 2] >= 0.5, :2]
        if not len(seen):
            continue
        (bx0, by0), (bx1, by1) = seen.min(axis=0), seen.max(axis=0)
        ix = max(0.0, min(x + w, bx1) - max(x, bx0))
        iy = max(0.0, min(y + h, by1) - max(y, by0))
        if ix * iy >= 0.5 * w * h:
            return "body"
    return ""


def _features_hidden(person: Any, mask: np.ndarray) -> bool:
    """Whether a located person's nose, eyes and mouth all lie on blurred pixels (each with 5 % of the head's
    width around it)."""
    from btb.detect.pose import FACE_FEATURES

    return features_covered(person.landmarks[FACE_FEATURES, :2].reshape(-1), mask,
                            max(1, round(0.05 * person.head[2]))) >= 1.0


def _seen_hands(person: Any) -> list[np.ndarray]:
    """A located person's hand boxes (x, y, w, h) whose hand points the locator sees (visibility >= 0.5)."""
    from btb.detect.pose import HANDS

    return [box for side, box in zip(HANDS, person.hands, strict=True)
            if float(person.landmarks[list(HANDS[side]), 2].max()) >= 0.5]


def flags_table(rows: Iterable[tuple]) -> pd.DataFrame:
    """The flag table of rows (``explained`` may be left off: then it is empty)."""
    rows = [r if len(r) == len(FLAG_COLUMNS) else (*r, "") for r in rows]
    if not rows:
        return empty_flags()
    return pd.DataFrame(rows, columns=list(FLAG_COLUMNS)).astype(FLAG_COLUMNS)


def verdict(flags: pd.DataFrame, frames: int, frames_detected: int | None = None, every: int = 1,
            items: pd.DataFrame | None = None) -> dict[str, Any]:
    """The verification verdict recorded in the manifest: ``pass`` when no review item is open (no flag, when
    ``items`` is not given), else ``needs_review``. ``frames_detected``: output frames the detectors ran on
    (default: all ``frames``)."""
    open_items = items[items["status"] == "open"] if items is not None else None
    held = (len(open_items) > 0) if open_items is not None else not flags.empty
    dismissed = items[items["status"] == "dismissed"] if items is not None else flags.iloc[0:0]
    return {
        "verdict": "needs_review" if held else "pass",
        "items": len(open_items) if open_items is not None else len(flags),
        "items_dismissed": len(dismissed) if items is not None else 0,
        "dismissed_by_reason": ({str(k): int(v) for k, v in dismissed["reason"].value_counts().items()}
                                if items is not None else {}),
        "flags": len(flags),
        "frames_checked": frames,
        "frames_detected": frames if frames_detected is None else frames_detected,
        "every": every,
        "frames_flagged": int(flags["frame_index"].nunique()) if len(flags) else 0,
        "flagged_frames": sorted(int(f) for f in flags["frame_index"].unique())[:1000],
        "by_detector": {str(k): int(v) for k, v in flags["detector"].value_counts().items()},
        "max_score": float(flags["score"].max()) if len(flags) else None,
    }


def verify_frames(frames: Iterable[tuple[int, np.ndarray]], regions: pd.DataFrame, detectors: dict[str, Any],
                  params: ResidualParams, stored: dict[str, dict[int, Stored | pd.DataFrame]] | None = None,
                  heads: dict[int, Stored | pd.DataFrame] | None = None, locator: Any = None,
                  inputs: Iterable[tuple[int, np.ndarray]] | None = None, motion: MotionCheck | None = None,
                  render: RenderCheck | None = None) -> tuple[pd.DataFrame, int, int]:
    """Residual verification of a de-identified output: (flags, frames checked, frames the detectors ran on).

    ``frames``: (frame index, BGR pixels) of the output; ``regions``: its region table; ``detectors``: name ->
    face detector (``detect(image) -> RawDetections``), run on the output frames ``params.detects``;
    ``stored``: detector -> that detector's stored input detections by frame, checked on every frame (flags
    named ``<detector>:input``).

    The head locator (``btb.detect.pose``) is the second, independent signal. Its heads are taken from the
    *input* (``heads``: its detection table by frame), where it sees the people whole, and every frame's heads
    are checked against the output's blur (flags named ``pose``): on a blurred output its person detector,
    which keys on faces, loses the people and places heads on hands and clothing instead. With ``locator`` and
    ``inputs`` (the input's frames, same indices as ``frames``, read lazily), it also runs on the input frame of
    every frame with a face-detector flag (from the output or the stored detections), and the people it finds
    explain flags (``explain_flags``).

    ``motion``: the fast-motion check (``btb.release.motion``), fed every output frame with the boxes of the
    detections on it at or above their verification thresholds (on the output, stored for the input, and the
    located heads): those are checked against the blur as flags themselves.

    ``render``: the file against its regions (``btb.release.render``), fed every output frame with its input
    frame (``inputs`` is then read in full); its flags are never explained away."""
    if render is not None and inputs is None:
        raise ValueError("the render check needs the input frames (inputs)")
    by_frame = {int(k): g for k, g in regions.groupby("frame_index")}
    empty = regions.iloc[0:0]
    source = iter(inputs) if inputs is not None else None
    rows: list[tuple] = []
    n = detected = 0
    for index, image in frames:
        frame_regions = by_frame.get(index, empty)
        mask = None
        new: list[tuple] = []
        original = _frame_at(source, index) if render is not None and source is not None else None
        found: dict[str, Any] = {}
        if detectors and params.detects(index):
            mask = frame_mask(image.shape, frame_regions)
            found = {name: d.detect(image) for name, d in detectors.items()}
            new += flags_in_frame(index, image.shape, frame_regions, found, params, mask)
            detected += 1
        if stored:  # the mask is computed once per frame, and only where it is needed
            new += input_flags_in_frame(index, image.shape, frame_regions,
                                        {k: v[index] for k, v in stored.items() if index in v and k != POSE},
                                        params, mask)
        if motion is not None:
            mask = frame_mask(image.shape, frame_regions) if mask is None else mask
            seen = [d.boxes[d.scores >= params.thresholds[name]] for name, d in found.items()]
            seen += [_boxes(v[index], params.thresholds[name]) for name, v in (stored or {}).items() if index in v]
            if heads and index in heads:
                seen.append(_boxes(heads[index], params.thresholds[POSE]))
            new += motion.step(index, image, mask, np.concatenate(seen) if seen else np.zeros((0, 4)))
        if new and locator is not None and source is not None:
            # without the render check, the input is decoded only as far as the last flagged frame
            mask = frame_mask(image.shape, frame_regions) if mask is None else mask
            new = explain_flags(new, locator.detect_people(
                original if original is not None else _frame_at(source, index)), mask)
        rows += new
        if original is not None and render is not None:
            mask = frame_mask(image.shape, frame_regions) if mask is None else mask
            rows += [(*r, "") for r in render.step(index, image, original, frame_regions, mask)]
        if heads and index in heads:
            rows += input_flags_in_frame(index, image.shape, frame_regions, {POSE: heads[index]}, params, mask,
                                         suffix="")
        n += 1
    return flags_table(rows), n, detected


def _boxes(d: Stored | pd.DataFrame, threshold: float) -> np.ndarray:
    """The boxes of the detections scoring at least ``threshold``."""
    d = as_stored(d) if isinstance(d, pd.DataFrame) else d
    return d.boxes[d.scores >= threshold]


def _frame_at(source: Iterator[tuple[int, np.ndarray]], index: int) -> np.ndarray:
    """The input frame ``index`` from an input stream read in step with the output (same frame indices)."""
    for i, img in source:
        if i == index:
            return img
        if i > index:
            break
    raise ValueError(f"input frame {index} not found in step with the output")
