"""Fast motion the detectors cannot see: a third verification signal, for a face blurred by its own speed.

A face that moves far between two frames is smeared by the camera's shutter, and once the smear is about half
the face's width every detector here loses it (measured on the demo's face at 56 px a frame: YuNet and
RetinaFace find it under a 21 px smear, score it at 0.1-0.3 under 31 px and not at all under 41 px;
docs/review.md). The head locator loses it too: the body is smeared with it. What still shows is the motion.

So verification measures motion on the output frames (dense optical flow, OpenCV's DIS, at a reduced width)
outside the blur, against the camera's own (the median flow: a pan moves everything), and flags a **fast
region no detector explains**: pixels that changed and move at least ``min_speed`` frame heights per frame,
grouped into regions at least ``min_size`` frame heights wide and tall, on which no detection lies that
verification checks itself (at or above its ``verify.thresholds``: a face detector's on the output or stored
for the input, or a head the locator placed on the input): the detectors saw nothing there, though something
the size of a head moved too fast for them. It is a flag named ``motion``, grouped into review items like the
others; the head locator can explain it as the moving arm, hand or body of a person it sees
(``btb.release.residual.explain_motion``), whose head it checks itself.

Frames where most of the picture moves fast or changes (a whip pan: ``max_moving_share``), and the first frame
after a cut (its colour histogram unlike the frame before's), raise no motion flag: there the flow does not say
where a face is. Outside the blur the output shows the input's pixels, so the flow is the input's; inside it
nothing is measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

MOTION = "motion"
MIN_PX = 12  # DIS needs a frame at least this wide or high
CHANGE = 12  # grey levels a pixel must change by between the frames to count as moving
# Consecutive frames whose hue-saturation histograms correlate less than this are a cut (a shot boundary, the
# usual histogram test): on the twelve unlabeled and infant clips every frame pair within a shot correlated
# 0.91 or more, the cuts of the hamilton clip 0.52-0.70; the synthetic fast face 0.987 at its lowest.
CUT_CORRELATION = 0.8


@dataclass(frozen=True)
class MotionParams:
    """``verify.motion`` of the configuration (defaults in its schema)."""

    min_speed: float  # frame heights per frame
    min_size: float  # frame heights: the smallest width and height of a moving region considered
    max_moving_share: float = 0.5  # of the unblurred picture; above it the frame raises no motion flag
    width: int = 320  # the flow is measured at this width

    def __post_init__(self) -> None:
        if self.min_speed <= 0 or not 0 < self.min_size <= 1 or not 0 < self.max_moving_share <= 1:
            raise ValueError("verify.motion: min_speed > 0, min_size and max_moving_share in (0, 1]")


class MotionCheck:
    """Fed the output frames in order (``step``); returns each frame's motion flags."""

    def __init__(self, params: MotionParams) -> None:
        self.params = params
        self._flow = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST)
        self._prev: np.ndarray | None = None
        self._prev_blurred: np.ndarray | None = None
        self._prev_hist: np.ndarray | None = None
        self._prev_index = -2

    def step(self, index: int, image: np.ndarray, mask: np.ndarray, explained: np.ndarray) -> list[tuple]:
        """Flags (frame_index, ``motion``, speed in frame heights per frame, x, y, w, h, covered share, NaN) of
        output frame ``index``: ``mask`` its blurred pixels, ``explained`` (n, 4) the boxes (x, y, w, h) of the
        detections on it that verification checks itself. Frames must come in order; after a gap the motion is
        measured again from the next."""
        h, w = image.shape[:2]
        scale = min(1.0, self.params.width / w)
        size = (max(1, round(w * scale)), max(1, round(h * scale)))
        small = cv2.resize(image, size, interpolation=cv2.INTER_AREA)
        gray = cv2.cvtColor(small, cv2.COLOR_BGR2GRAY)
        hist = cv2.calcHist([cv2.cvtColor(small, cv2.COLOR_BGR2HSV)], [0, 1], None, [16, 8], [0, 180, 0, 256])
        cv2.normalize(hist, hist)
        prev_hist, self._prev_hist = self._prev_hist, hist
        # blurred pixels, grown by a few pixels: the flow leaks across a blur's edge
        blurred = cv2.dilate(cv2.resize(mask.astype(np.uint8), size, interpolation=cv2.INTER_NEAREST),
                             np.ones((7, 7), np.uint8)) > 0
        prev, self._prev = self._prev, gray
        prev_blurred, self._prev_blurred = self._prev_blurred, blurred
        follows, self._prev_index = index == self._prev_index + 1, index
        if prev is None or prev_blurred is None or not follows or prev.shape != gray.shape or max(size) < MIN_PX:
            return []
        if prev_hist is not None and cv2.compareHist(prev_hist, hist, cv2.HISTCMP_CORREL) < CUT_CORRELATION:
            return []  # a cut: the flow between two shots says nothing
        flow = self._flow.calc(prev, gray, None)
        hidden = blurred | prev_blurred
        # motion against the camera's: the median flow of the unblurred picture (a pan moves everything)
        if (~hidden).any():
            flow = flow - np.median(flow[~hidden], axis=0)
        speed = np.hypot(flow[..., 0], flow[..., 1])
        small_h = gray.shape[0]
        # fast, and changed: in a plain area the flow is a guess; where a blur was a frame ago or is now, the
        # picture changes because the blur moved
        changed = cv2.absdiff(prev, gray) >= CHANGE
        fast = (speed >= self.params.min_speed * small_h) & changed & ~hidden
        visible = max(1, int((~hidden).sum()))
        if max(int(fast.sum()), int((changed & ~hidden).sum())) > self.params.max_moving_share * visible:
            return []  # a cut or a whip pan
        fast = cv2.morphologyEx(fast.astype(np.uint8), cv2.MORPH_OPEN, np.ones((3, 3), np.uint8))
        count, labels, stats, _ = cv2.connectedComponentsWithStats(fast)
        seen = np.zeros(gray.shape, dtype=bool)
        boxes = np.asarray(explained, dtype=np.float64).reshape(-1, 4) * scale
        for x, y, bw, bh in boxes[np.isfinite(boxes).all(axis=1)]:  # a detector's degenerate box marks nothing
            seen[max(0, int(y)):max(0, int(np.ceil(y + bh))), max(0, int(x)):max(0, int(np.ceil(x + bw)))] = True
        rows = []
        for k in range(1, count):
            x, y, bw, bh, area = (int(v) for v in stats[k])
            if min(bw, bh) < self.params.min_size * small_h:  # a sliver: the edge of a body moving under a blur
                continue
            region = labels == k
            if (region & seen).sum() > 0.2 * area:  # a detector looked at it and judged it
                continue
            # the flow is measured on the earlier frame's pixels: the region is where the moving thing was; its
            # flow carries it to where it is now. The flag's box spans both (the path between the frames).
            dx, dy = float(np.median(flow[..., 0][region])), float(np.median(flow[..., 1][region]))
            x0, y0 = max(0.0, min(x, x + dx)), max(0.0, min(y, y + dy))
            x1 = min(float(gray.shape[1]), max(x + bw, x + bw + dx))
            y1 = min(float(small_h), max(y + bh, y + bh + dy))
            box = np.array([x0, y0, x1 - x0, y1 - y0], dtype=np.float64) / scale
            covered = float(mask[int(box[1]):int(box[1] + box[3]), int(box[0]):int(box[0] + box[2])].mean())
            rows.append((index, MOTION, float(np.median(speed[region])) / small_h, *map(float, box), covered,
                         float("nan")))
        return rows
