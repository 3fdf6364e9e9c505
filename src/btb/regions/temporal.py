"""Temporal coverage: link per-frame boxes into tracks, fill short gaps, extend tracks, enlarge with speed.

Per-frame detectors miss faces for a frame or a few (motion blur, a turning head, a hand passing). Tracks
recover those frames:

* **Linking.** Frame by frame, each open track predicts its box (last box moved by its velocity); detections
  are matched to predictions greedily by IoU (``match_iou``) or, for fast motion, by centre distance within
  ``match_distance`` of the track's box size. A track stays open for ``max_gap`` frames without a match.
* **Filling.** Between two detections of a track at most ``max_gap`` frames apart, the missing frames get a
  box interpolated linearly (source ``temporal_fill``).
* **Extending.** Each track is held ``extend`` frames before its first and after its last detection
  (source ``temporal_extend``): a face is blurred from before the detector first sees it. A track that starts
  or ends at the frame's border (a face entering or leaving the picture) is held longer, up to
  ``edge_extend`` frames, for as long as its held box, following the track's motion, still touches that
  border: a face entering from the edge shows as a sliver for frames before any detector finds it.
* **Speed.** Each box is enlarged by ``1 + speed_gain * speed / size`` (speed in pixels per frame, size the
  box's longer side), capped at ``max_speed_enlarge``: a fast face moves within the frame it is shown.
* **Bridging.** A track with at least ``bridge_min`` detections is established: it stays open, and its gaps
  are filled, for up to ``bridge_gap`` frames (when larger than ``max_gap``). A child turning the back of the
  head to the camera for a second or two is lost by every face detector; the established track carries the
  blur across. Short tracks (most false detections) keep ``max_gap``. Across a gap longer than ``max_gap``
  the prediction stops following the last velocity after ``max_gap`` frames, and a detection within
  ``bridge_distance`` box sizes of it (instead of ``match_distance``) re-finds the track.
* **Size hold.** A head does not shrink when it turns or tilts away, but the detector's face box does. A dip
  in a track's box size between larger boxes at most ``size_hold`` frames before and after is filled: the
  box is widened and heightened, about its centre, to the smaller of the two neighbouring maxima, where it is
  at least ``size_dip`` below it (smaller differences are the jitter of a steady face's box). A face that
  steadily shrinks (a zoom, someone walking away) keeps its own size.
* **Continuation.** Detections below the decision threshold but at or above ``continue_thresholds`` (per
  detector) take part in linking; they are kept (source ``temporal_continue``) only on a track that also has
  a detection at or above the decision threshold, and dropped everywhere else (``btb.regions.merge``). A face seen
  confidently once stays blurred while its score dips (a turning head, a face at the frame edge), without
  blurring every weak detection of the video.
* **Persistence.** Detections below the decision threshold but at or above ``persist_thresholds`` (per
  detector) that no confident box covers are linked among themselves, by overlap only; a track of them seen
  on at least ``persist_min`` frames is blurred as if confident (source ``temporal_persist``,
  ``btb.regions.merge``). A small or turned face that a detector finds weakly frame after frame (a crowd's
  faces at 12 px) is blurred rather than left for a reviewer; a weak detection that comes and goes (a
  pattern, a hand) is not.

The tracker never drops a confident box: every box at or above the decision threshold is in the output, so
tracking can only add coverage. Raising ``max_gap`` or ``extend`` covers longer misses at the price of
blurring where a face may no longer be; ``speed_gain`` trades blur area for safety on fast motion.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from btb.regions.boxes import centres_inside, iou_matrix

FILL = "temporal_fill"
EXTEND = "temporal_extend"
CONTINUE = "temporal_continue"
PERSIST = "temporal_persist"


@dataclass(frozen=True)
class TemporalParams:
    """The ``merge.temporal`` section of the configuration (its schema holds the defaults; ``btb.regions.merge.
    temporal_params`` builds this from it)."""

    max_gap: int
    extend: int
    match_iou: float
    match_distance: float  # centre distance, in units of the track box's longer side
    speed_gain: float
    max_speed_enlarge: float
    # detector -> score at or above which a sub-threshold detection may continue a confident track ({}: none)
    continue_thresholds: dict[str, float]
    continue_iou: float  # overlap with the track's predicted box that a sub-threshold detection needs
    # detector -> score at or above which sub-threshold detections that persist are blurred ({}: none)
    persist_thresholds: dict[str, float]
    persist_min: int  # frames a track of such detections must be seen on (0: off)
    size_hold: int  # frames: a dip in a track's box size between larger boxes this near is filled (0: off)
    size_dip: float  # ... when the box is at least this much (share) narrower or shorter than they are
    bridge_gap: int  # frames: an established track (>= bridge_min detections) bridges misses this long
    bridge_min: int
    bridge_distance: float  # centre distance (track box sizes) that re-finds a track after > max_gap
    max_jump: float  # gate: centre move per frame of gap, in the track's sizes, beyond its measured speed
    max_size_change: float  # gate: a joining box's size within this factor of the track's recent size
    # frames: a track whose end box touches the frame's border is held, following its motion, for as long as
    # the held box stays at that border, up to this many frames (0: off)
    edge_extend: int

    def __post_init__(self) -> None:
        if min(self.max_gap, self.extend, self.size_hold, self.bridge_gap, self.bridge_min, self.edge_extend,
               self.persist_min) < 0:
            raise ValueError("max_gap, extend, size_hold, bridge_gap, bridge_min, edge_extend and persist_min must "
                             "be >= 0")
        if not 0 <= self.size_dip < 1:
            raise ValueError("size_dip must be in [0, 1)")
        if any(not 0 <= v <= 1 for v in (*self.continue_thresholds.values(), *self.persist_thresholds.values())):
            raise ValueError("continue_thresholds and persist_thresholds must be in [0, 1]")
        if self.max_jump <= 0 or self.max_size_change < 1:
            raise ValueError("max_jump must be > 0 and max_size_change >= 1")


@dataclass
class Track:
    track_id: int
    frames: list[int] = field(default_factory=list)
    boxes: list[np.ndarray] = field(default_factory=list)
    members: list[int] = field(default_factory=list)  # row numbers of the input boxes
    confirmed: bool = True  # has a box at or above the decision threshold (not only weak ones)

    @property
    def last_frame(self) -> int:
        return self.frames[-1]

    def velocity(self) -> np.ndarray:
        if len(self.frames) < 2:
            return np.zeros(4)
        df = self.frames[-1] - self.frames[-2]
        return (self.boxes[-1] - self.boxes[-2]) / max(df, 1)

    def predict(self, frame: int, max_steps: int | None = None) -> np.ndarray:
        steps = frame - self.last_frame
        return self.boxes[-1] + self.velocity() * (steps if max_steps is None else min(steps, max_steps))

    def size(self) -> float:
        """The track's recent size: the median longer side of its last few boxes (a box or two that a
        passing occluder or a neighbour inflated does not move it)."""
        return float(np.median([max(b[2], b[3]) for b in self.boxes[-RECENT:]]))

    def speed(self) -> float:
        """The track's recent speed: the median centre movement per frame over its last few steps."""
        return _median_speed(np.asarray(self.frames[-RECENT:]), np.stack(self.boxes[-RECENT:]))


RECENT = 5  # boxes of a track that its recent size and speed are measured on


def _gate(tracks: list[Track], dets: np.ndarray, frame: int, params: TemporalParams) -> np.ndarray:
    """The gate, (tracks, dets): whether each box in ``frame`` can be each track's face, from the motion and
    size the track really had. Its centre may be at most ``max_jump`` track sizes per frame of gap (up to
    ``max_gap`` + 1 frames) plus the track's own speed per frame away from the track's last box, and its size
    within ``max_size_change`` of the track's recent size. Each track's recent size and speed are measured once
    per frame (measured per pair, they took more than half of merging's time on a 275-frame clip)."""
    steps = np.array([frame - t.last_frame for t in tracks], dtype=np.float64)[:, None]
    size = np.array([t.size() for t in tracks])[:, None]
    speed = np.array([t.speed() for t in tracks])[:, None]
    last = np.stack([t.boxes[-1] for t in tracks])
    reach = params.max_jump * size * np.minimum(steps, params.max_gap + 1) + 2.0 * speed * steps
    moved = np.hypot(*np.moveaxis(_centre(dets)[None, :, :] - _centre(last)[:, None, :], -1, 0))
    change = np.maximum(dets[:, 2], dets[:, 3])[None, :] / np.maximum(size, 1e-9)
    return (moved <= reach) & (1 / params.max_size_change <= change) & (change <= params.max_size_change)


def _median_speed(frames: np.ndarray, boxes: np.ndarray) -> float:
    """Median centre movement per frame between consecutive boxes (0 for fewer than two)."""
    if len(frames) < 2:
        return 0.0
    c = _centre(boxes)
    steps = np.linalg.norm(np.diff(c, axis=0), axis=1) / np.maximum(np.diff(frames), 1)
    return float(np.median(steps))


def _centre(b: np.ndarray) -> np.ndarray:
    return b[..., :2] + b[..., 2:] / 2


def _gap_allowed(t: Track, params: TemporalParams) -> int:
    if params.bridge_gap > params.max_gap and len(t.frames) >= params.bridge_min:
        return params.bridge_gap
    return params.max_gap


def link_tracks(frame_index: np.ndarray, boxes: np.ndarray, params: TemporalParams,
                weak: np.ndarray | None = None) -> np.ndarray:
    """Track id of every input box (rows of ``boxes``, x y w h, with their ``frame_index``).

    ``weak`` marks sub-threshold boxes (continuation candidates). A weak box, and any box joining a track
    that so far holds only weak boxes, links by overlap with the predicted box (IoU >= ``continue_iou``)
    only, never by centre distance: a large or distant weak box beside a face (a false detection) does not
    ride on the face's track.
    """
    weak = np.zeros(len(boxes), dtype=bool) if weak is None else np.asarray(weak, dtype=bool)
    order = np.argsort(frame_index, kind="stable")
    track_of = np.full(len(boxes), -1, dtype=np.int64)
    open_tracks: list[Track] = []
    next_id = 0
    frames = frame_index[order]
    for f in np.unique(frames):
        rows = order[frames == f]
        open_tracks = [t for t in open_tracks if f - t.last_frame <= _gap_allowed(t, params) + 1]
        dets = boxes[rows]
        matched_t: set[int] = set()
        matched_d: set[int] = set()
        if open_tracks and len(rows):
            preds = np.stack([t.predict(int(f), params.max_gap + 1) for t in open_tracks])
            iou = iou_matrix(preds, dets)
            size = np.maximum(preds[:, 2], preds[:, 3])[:, None]
            dist = np.linalg.norm(_centre(preds)[:, None, :] - _centre(dets)[None, :, :], axis=2) / size
            # after a miss longer than max_gap (an established track bridging), the face may have moved further
            long_miss = np.array([f - t.last_frame > params.max_gap + 1 for t in open_tracks])[:, None]
            dist = np.where(long_miss, dist * params.match_distance / max(params.bridge_distance, 1e-9), dist)
            # prefer overlap, then closeness; a pair qualifies by either test
            score = np.where(iou >= params.match_iou, 1 + iou, np.where(dist <= params.match_distance,
                                                                      1 - dist / (params.match_distance + 1e-9),
                                                                      -1.0))
            # a weak box, or a track with no confident box yet, links by overlap only
            loose = weak[rows][None, :] | np.array([not t.confirmed for t in open_tracks])[:, None]
            score = np.where(loose, np.where(iou >= params.continue_iou, 1 + iou, -1.0), score)
            gated = _gate(open_tracks, dets, int(f), params)
            score = np.where(gated, score, -1.0)
            same_face = _same_face(dets)
            owner: dict[int, int] = {}  # detection -> the track that took it
            for ti, di in sorted(np.argwhere(score > -1), key=lambda p: -score[p[0], p[1]]):
                if ti in matched_t or di in matched_d:
                    continue
                # another track already holds this face through another box of it: a second box of one face
                # does not pull over a different track that only reaches it by distance (it starts its own)
                if iou[ti, di] < params.match_iou and any(same_face[di, dj] and tj != ti
                                                          for dj, tj in owner.items()):
                    continue
                owner[int(di)] = int(ti)
                matched_t.add(int(ti))
                matched_d.add(int(di))
                t = open_tracks[ti]
                t.frames.append(int(f))
                t.boxes.append(dets[di])
                t.members.append(int(rows[di]))
                t.confirmed |= not weak[rows[di]]
                track_of[rows[di]] = t.track_id
        for di, row in enumerate(rows):
            if di not in matched_d:
                t = Track(next_id, [int(f)], [dets[di]], [int(row)], confirmed=not weak[row])
                next_id += 1
                open_tracks.append(t)
                track_of[row] = t.track_id
    return track_of


def _same_face(dets: np.ndarray) -> np.ndarray:
    """(n, n): boxes of one frame that are one face's (they overlap, IoU >= 0.2, or one's centre lies in the
    other)."""
    inside = centres_inside(dets, dets)
    same = (iou_matrix(dets, dets) >= 0.2) | inside | inside.T
    np.fill_diagonal(same, False)
    return same


def fill_and_extend(frame_index: np.ndarray, boxes: np.ndarray, track_of: np.ndarray, n_frames: int,
                    params: TemporalParams, frame_size: tuple[int, int] | None = None
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Added boxes from gap filling and extension: (frame_index, boxes, track_id, source, floor). ``floor``
    (N, 2): the smallest width and height each added box may end with (``apply_floors``): the largest of
    the track's last few boxes before a gap, or at an end, so that a face hidden for a while (an occluder, a
    turn away) is not shrunk to a partial box at either end of the gap. ``frame_size`` (width, height): for
    the longer hold at the frame's border (``edge_extend``); without it, none."""
    out_f: list[int] = []
    out_b: list[np.ndarray] = []
    out_floor: list[np.ndarray] = []
    out_t: list[int] = []
    out_s: list[str] = []
    for tid in np.unique(track_of):
        sel = np.flatnonzero(track_of == tid)
        fr = frame_index[sel]
        order = np.argsort(fr, kind="stable")
        fr, bx = fr[order], boxes[sel][order]
        # one box per frame for interpolation (several detections of one track in a frame: their mean)
        uniq, first = np.unique(fr, return_index=True)
        per_frame = np.stack([bx[fr == u].mean(axis=0) for u in uniq])
        for i in range(len(uniq) - 1):
            (a, ba), (b, bb) = (uniq[i], per_frame[i]), (uniq[i + 1], per_frame[i + 1])
            if 1 < b - a <= max(params.max_gap, params.bridge_gap) + 1:
                # interpolated linearly; at least as large as the largest of the track's last few boxes
                # before the gap and the box after it
                floor = np.maximum(ba[2:], bb[2:])
                for g in range(a + 1, b):
                    w = (g - a) / (b - a)
                    out_f.append(int(g))
                    out_b.append(ba * (1 - w) + bb * w)
                    out_t.append(int(tid))
                    out_s.append(FILL)
                    out_floor.append(floor)
        # extension follows the track's centre at each end, at its velocity between the last two boxes there (with
        # the gate, motion the track really had; a still track is held in place), and never shrinks: it keeps
        # the end box's size (a face hidden by an occluder stays covered while it is hidden)
        for at_end in (False, True):
            end = per_frame[-1] if at_end else per_frame[0]
            v = np.zeros(2)
            if len(uniq) > 1:
                a, b = (-2, -1) if at_end else (0, 1)
                v = (_centre(per_frame[b]) - _centre(per_frame[a])) / (uniq[b] - uniq[a])
            sides = _border_sides(end, frame_size) if frame_size is not None and params.edge_extend else set()
            for k in range(1, max(params.extend, params.edge_extend if sides else 0) + 1):
                g = uniq[-1] + k if at_end else uniq[0] - k
                if not 0 <= g < n_frames:
                    break
                c = _centre(end) + v * (k if at_end else -k)
                held = np.concatenate([c - end[2:] / 2, end[2:]])
                if k > params.extend and not (sides & _border_sides(held, frame_size)):  # type: ignore[arg-type]
                    break  # the held box has left the border it entered or left by (or the picture)
                out_f.append(int(g))
                out_b.append(held)
                out_t.append(int(tid))
                out_s.append(EXTEND)
                out_floor.append(np.zeros(2))
    if not out_f:
        return (np.zeros(0, np.int64), np.zeros((0, 4)), np.zeros(0, np.int64), np.zeros(0, dtype=object),
                np.zeros((0, 2)))
    return (np.asarray(out_f, np.int64), np.stack(out_b), np.asarray(out_t, np.int64),
            np.asarray(out_s, dtype=object), np.stack(out_floor))


def _border_sides(box: np.ndarray, frame_size: tuple[int, int]) -> set[str]:
    """The frame borders a box (x, y, w, h) touches while overlapping the picture (within 1 % of the frame's
    smaller side): a subset of left, top, right, bottom; empty for a box wholly outside."""
    width, height = frame_size
    x, y, w, h = (float(v) for v in box)
    if x >= width or y >= height or x + w <= 0 or y + h <= 0:
        return set()
    m = max(2.0, 0.01 * min(width, height))
    return {side for side, touches in (("left", x <= m), ("top", y <= m), ("right", x + w >= width - m),
                                       ("bottom", y + h >= height - m)) if touches}


def apply_floors(boxes: np.ndarray, floors: np.ndarray) -> np.ndarray:
    """``boxes`` with each width and height raised, about the box's centre, to at least its floor."""
    out = np.asarray(boxes, dtype=np.float64).copy()
    target = np.maximum(out[:, 2:], floors)
    out[:, :2] -= (target - out[:, 2:]) / 2
    out[:, 2:] = target
    return out


def speed_factors(frame_index: np.ndarray, boxes: np.ndarray, track_of: np.ndarray,
                  params: TemporalParams, measured: np.ndarray | None = None) -> np.ndarray:
    """Per box, the enlargement for its track's speed around that frame (1 for a still face).

    Speed is measured on the ``measured`` boxes only (detections and interpolated fills; by default all);
    every other box of the track (extensions) takes the speed of the nearest measured frame.
    """
    factors = np.ones(len(boxes))
    if params.speed_gain <= 0:
        return factors
    measured = np.ones(len(boxes), dtype=bool) if measured is None else measured
    centres = _centre(boxes)
    for tid in np.unique(track_of):
        sel = np.flatnonzero((track_of == tid) & measured)
        if len(sel) < 2:
            continue
        order = sel[np.argsort(frame_index[sel], kind="stable")]
        f = frame_index[order].astype(float)
        c = centres[order]
        speed = np.zeros(len(order))
        for i in range(len(order)):
            lo, hi = max(i - 1, 0), min(i + 1, len(order) - 1)
            df = f[hi] - f[lo]
            if df > 0:
                speed[i] = np.linalg.norm(c[hi] - c[lo]) / df
        size = np.maximum(boxes[order, 2], boxes[order, 3]).clip(min=1)
        factor = np.minimum(1 + params.speed_gain * speed / size, params.max_speed_enlarge)
        members = np.flatnonzero(track_of == tid)
        nearest = np.abs(frame_index[members][:, None] - f[None, :]).argmin(axis=1)
        factors[members] = factor[nearest]
    return factors


def hold_sizes(frame_index: np.ndarray, boxes: np.ndarray, track_of: np.ndarray, hold: int,
               measured: np.ndarray | None = None, dip: float = 0.0) -> np.ndarray:
    """``boxes`` with each one's width and height raised, about its centre, to fill dips in its track's size.

    The reference at frame f is the smaller of the largest width (height) the track's ``measured`` boxes
    (default: all) show in the ``hold`` frames up to f and in the ``hold`` frames from f on: a dip between
    larger boxes (a head turning or tilting away and back) is filled, while a face that steadily shrinks (a
    zoom, a person walking away) keeps its own size. A width (height) less than ``dip`` below its reference
    is the frame-to-frame jitter of a steady face's box and stays as it is.
    """
    out = np.asarray(boxes, dtype=np.float64).copy()
    if hold <= 0 or not len(out):
        return out
    measured = np.ones(len(out), dtype=bool) if measured is None else np.asarray(measured, dtype=bool)
    for tid in np.unique(track_of):
        rows = np.flatnonzero(track_of == tid)
        meas = rows[measured[rows]]
        if not len(meas):
            continue
        lo = int(frame_index[rows].min())
        span = int(frame_index[rows].max()) - lo + 1
        # per frame of the track's span (padded by hold on both sides), its largest measured width and height
        wh = np.zeros((span + 2 * hold, 2))
        np.maximum.at(wh, frame_index[meas] - lo + hold, out[meas, 2:])
        win = np.lib.stride_tricks.sliding_window_view(wh, 2 * hold + 1, axis=0)  # (span, 2, 2*hold+1)
        ref = np.minimum(win[..., :hold + 1].max(axis=2), win[..., hold:].max(axis=2))
        ref = ref[frame_index[rows] - lo]
        # only a real dip (not the frame-to-frame jitter of a steady face's box) is filled
        target = np.where(out[rows, 2:] < ref * (1 - dip), ref, out[rows, 2:])
        out[rows, :2] -= (target - out[rows, 2:]) / 2
        out[rows, 2:] = target
    return out
