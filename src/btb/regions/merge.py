"""Turn detector tables (two or three: YuNet, RetinaFace, optionally CenterFace) into the blur-region table:
threshold, combine (union / cascade / intersection), fuse duplicates, enlarge, clip to the frame.

Cascade merges exactly like union: the difference is upstream, where the second-stage detectors only ran on
the frames that ``btb.regions.cascade`` selected, so their tables only have rows for those frames. Intersection keeps
a box that at least one other detector confirms.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from btb.regions.boxes import centres_inside, clip_to_frame, iou_matrix, scale_about_centre, to_int_pixels, to_xyxy
from btb.regions.tables import REGION_COLUMNS, REGION_SHAPES, empty_regions
from btb.regions.temporal import (
    CONTINUE,
    EXTEND,
    PERSIST,
    TemporalParams,
    apply_floors,
    fill_and_extend,
    hold_sizes,
    link_tracks,
    speed_factors,
)

MODES = ("union", "cascade", "intersection")


@dataclass(frozen=True)
class MergeParams:
    """How per-frame detections become regions (the ``merge`` section of the configuration, whose schema holds
    the defaults: ``MergeParams.from_config``)."""

    mode: str
    thresholds: dict[str, float]  # detector name -> decision threshold
    fuse_iou: float  # boxes overlapping at least this much become one region
    match_iou: float  # intersection mode: a box must overlap another detector's by this much
    enlarge: float
    shape: str

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"merge mode must be one of {MODES}, got {self.mode!r}")
        if self.shape not in REGION_SHAPES:
            raise ValueError(f"region shape must be one of {REGION_SHAPES}, got {self.shape!r}")

    @classmethod
    def from_config(cls, merge: Mapping[str, Any], mode: str | None = None,
                    thresholds: Mapping[str, float] | None = None) -> MergeParams:
        """From a ``merge`` section; ``mode`` and ``thresholds`` replace the section's."""
        return cls(mode=mode or merge["mode"], thresholds=dict(thresholds or merge["thresholds"]),
                   fuse_iou=merge["fuse_iou"], match_iou=merge["match_iou"], enlarge=merge["enlarge"],
                   shape=merge["shape"])


def temporal_params(merge: Mapping[str, Any]) -> TemporalParams | None:
    """``TemporalParams`` from a ``merge`` section's ``temporal`` part (None when disabled or absent)."""
    t = merge.get("temporal")
    if not t or not t.get("enabled"):
        return None
    return TemporalParams(**{k: v for k, v in t.items() if k != "enabled"})


def _enclose(boxes: np.ndarray) -> np.ndarray:
    xyxy = to_xyxy(boxes)
    x1, y1 = xyxy[:, 0].min(), xyxy[:, 1].min()
    return np.array([x1, y1, xyxy[:, 2].max() - x1, xyxy[:, 3].max() - y1])


def _fuse(boxes: np.ndarray, scores: np.ndarray, sources: np.ndarray, iou: float) -> list[tuple]:
    """Group boxes connected by IoU >= iou; each group becomes its enclosing box."""
    n = len(boxes)
    parent = list(range(n))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    m = iou_matrix(boxes, boxes)
    for i, j in zip(*np.nonzero(np.triu(m >= iou, k=1)), strict=True):
        parent[find(int(i))] = find(int(j))
    groups: dict[int, list[int]] = {}
    for i in range(n):
        groups.setdefault(find(i), []).append(i)
    out = []
    for members in groups.values():
        idx = np.asarray(members)
        src = "+".join(sorted(set(sources[idx])))
        out.append((_enclose(boxes[idx]), float(scores[idx].max()), src))
    return out


def _candidates(tables: dict[str, pd.DataFrame], params: MergeParams,
                continue_thresholds: dict[str, float] | None = None) -> pd.DataFrame:
    """Detections at or above their detector's threshold (``confident``), plus, with ``continue_thresholds``,
    the weaker ones at or above those (not confident)."""
    parts = []
    for name, df in tables.items():
        thr = params.thresholds[name]
        low = min(thr, (continue_thresholds or {}).get(name, thr))
        kept = df[df["score"] >= low]
        parts.append(kept[["frame_index", "x", "y", "w", "h", "score"]].assign(
            source=name, confident=kept["score"].to_numpy() >= thr))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=["frame_index", "x", "y", "w", "h", "score", "source", "confident"])
    return pd.concat(parts, ignore_index=True)


def _weak_boxes(weak: pd.DataFrame, confident: np.ndarray, fuse_iou: float) -> list[tuple]:
    """A frame's sub-threshold boxes that no confident box of the frame already covers, fused among themselves."""
    wb = weak[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
    if len(confident):
        wb_keep = ~(iou_matrix(wb, confident) >= fuse_iou).any(axis=1)
        weak, wb = weak[wb_keep], wb[wb_keep]
    if not len(wb):
        return []
    return _fuse(wb, weak["score"].to_numpy(), np.full(len(wb), CONTINUE, dtype=object), fuse_iou)


def _persistent(tables: dict[str, pd.DataFrame], params: MergeParams, temporal: TemporalParams) -> pd.DataFrame:
    """Sub-threshold detections that persist: those at or above ``temporal.persist_thresholds`` (and below their
    detector's decision threshold) that no confident box of their frame covers (IoU >= ``fuse_iou``, or the
    centre inside it), fused per frame, linked among themselves by overlap only (``link_tracks`` with every
    box weak), on tracks seen on at least ``persist_min`` frames. Rows: frame_index, x, y, w, h, score."""
    cols = ["frame_index", "x", "y", "w", "h", "score"]
    if not temporal.persist_min or not temporal.persist_thresholds:
        return pd.DataFrame(columns=cols)
    weak_parts, conf_parts = [], []
    for name, df in tables.items():
        thr = params.thresholds[name]
        conf_parts.append(df.loc[df["score"] >= thr, ["frame_index", "x", "y", "w", "h"]])
        low = temporal.persist_thresholds.get(name)
        if low is not None and low < thr:
            weak_parts.append(df.loc[(df["score"] >= low) & (df["score"] < thr), cols])
    weak_parts = [p for p in weak_parts if len(p)]
    if not weak_parts:
        return pd.DataFrame(columns=cols)
    weak = pd.concat(weak_parts, ignore_index=True)
    conf = pd.concat(conf_parts, ignore_index=True)
    conf_by_frame = {int(k): g[["x", "y", "w", "h"]].to_numpy(np.float64) for k, g in conf.groupby("frame_index")}
    frames: list[int] = []
    boxes: list[np.ndarray] = []
    scores: list[float] = []
    for frame_index, g in weak.groupby("frame_index", sort=True):
        wb = g[["x", "y", "w", "h"]].to_numpy(np.float64)
        cb = conf_by_frame.get(int(frame_index))
        if cb is not None and len(cb):
            covered = (iou_matrix(wb, cb) >= params.fuse_iou) | centres_inside(wb, cb)
            keep = ~covered.any(axis=1)
            g, wb = g[keep], wb[keep]
        if not len(wb):
            continue
        for box, score, _ in _fuse(wb, g["score"].to_numpy(), np.full(len(wb), PERSIST, dtype=object),
                                   params.fuse_iou):
            frames.append(int(frame_index))
            boxes.append(box)
            scores.append(score)
    if not frames:
        return pd.DataFrame(columns=cols)
    f, b = np.asarray(frames, dtype=np.int64), np.stack(boxes)
    track = link_tracks(f, b, temporal, weak=np.ones(len(f), dtype=bool))
    seen = pd.Series(f).groupby(track).nunique()
    keep = np.isin(track, seen.index[seen >= temporal.persist_min].to_numpy())
    return pd.DataFrame({"frame_index": f[keep], "x": b[keep, 0], "y": b[keep, 1], "w": b[keep, 2],
                         "h": b[keep, 3], "score": np.asarray(scores)[keep]})


def _intersection(frame: pd.DataFrame, params: MergeParams) -> pd.DataFrame:
    """The boxes that another detector confirms (IoU >= match_iou with a box of a different source), grouped
    by detector name."""
    src = frame["source"].to_numpy()
    if len(set(src)) < 2:
        return frame.iloc[0:0]
    boxes = frame[["x", "y", "w", "h"]].to_numpy()
    confirmed = ((iou_matrix(boxes, boxes) >= params.match_iou) & (src[:, None] != src[None, :])).any(axis=1)
    return frame[confirmed].sort_values("source", kind="stable")


def _cover(f: np.ndarray, b: np.ndarray, sc: np.ndarray, src: np.ndarray, conf: np.ndarray,
           temporal: TemporalParams, n_frames: int, width: int, height: int
           ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Temporal coverage of one set of per-frame boxes (``conf``: at or above the decision threshold): link
    into tracks, keep weak boxes only on a track with a confident one, fill, extend, hold sizes. Returns
    (frame_index, boxes, scores, sources, track ids, speed enlargement factors)."""
    if not len(f):
        return f, b, sc, src, np.zeros(0, np.int64), np.ones(0)
    track = link_tracks(f, b, temporal, weak=~conf)
    keep = conf | np.isin(track, track[conf])  # a weak box stays only on a track with a confident one
    f, b, sc, src, track = f[keep], b[keep], sc[keep], src[keep], track[keep]
    if not len(f):
        return f, b, sc, src, track, np.ones(0)
    af, ab, at, asrc, floors = fill_and_extend(f, b, track, n_frames, temporal, (width, height))
    floors = np.concatenate([np.zeros((len(f), 2)), floors])
    f, b, track = np.concatenate([f, af]), np.concatenate([b, ab]), np.concatenate([track, at])
    sc, src = np.concatenate([sc, np.zeros(len(af))]), np.concatenate([src, asrc])
    factor = speed_factors(f, b, track, temporal, measured=src != EXTEND)
    b = hold_sizes(f, b, track, temporal.size_hold, measured=src != EXTEND, dip=temporal.size_dip)
    return f, apply_floors(b, floors), sc, src, track, factor


def merge_detections(
    tables: dict[str, pd.DataFrame],
    params: MergeParams,
    width: int,
    height: int,
    temporal: TemporalParams | None = None,
    n_frames: int | None = None,
) -> pd.DataFrame:
    """The blur-region table (``REGION_COLUMNS``) in output-frame pixels.

    With ``temporal`` (and the video's ``n_frames``), per-frame boxes are linked into tracks that fill short
    gaps, extend before and after each track, and enlarge with speed (``btb.regions.temporal``); added regions have
    source ``temporal_fill`` / ``temporal_extend``. With ``temporal.continue_thresholds`` (union and cascade),
    weaker detections link too and are kept, as ``temporal_continue``, only on a track that has a confident
    one. With ``temporal.persist_thresholds`` and ``persist_min`` (union and cascade), weak detections that
    persist on their own are blurred too, as ``temporal_persist`` (``_persistent``).
    """
    weak_thr = temporal.continue_thresholds if temporal is not None and params.mode != "intersection" else None
    cand = _candidates(tables, params, weak_thr)
    frames: list[int] = []
    boxes: list[np.ndarray] = []
    scores: list[float] = []
    sources: list[str] = []
    confident: list[bool] = []
    for frame_index, frame in cand.groupby("frame_index", sort=True):
        weak = frame[~frame["confident"].astype(bool)]
        frame = frame[frame["confident"].astype(bool)]
        if params.mode == "intersection":
            frame = _intersection(frame, params)
        fb = frame[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
        fused = _fuse(fb, frame["score"].to_numpy(), frame["source"].to_numpy(), params.fuse_iou) if len(fb) else []
        n_conf = len(fused)
        if len(weak):
            fused += _weak_boxes(weak, fb, params.fuse_iou)
        for k, (box, score, src) in enumerate(fused):
            frames.append(int(frame_index))
            boxes.append(box)
            scores.append(score)
            sources.append(src)
            confident.append(k < n_conf)
    f = np.asarray(frames, dtype=np.int64)
    b = np.stack(boxes) if boxes else np.zeros((0, 4))
    sc = np.asarray(scores, dtype=np.float64)
    src_arr = np.asarray(sources, dtype=object)
    track = np.full(len(f), -1, dtype=np.int64)
    factor = np.ones(len(f))
    if temporal is not None:
        if n_frames is None:
            raise ValueError("temporal coverage needs the video's frame count")
        f, b, sc, src_arr, track, factor = _cover(f, b, sc, src_arr, np.asarray(confident, dtype=bool), temporal,
                                                  n_frames, width, height)
        if params.mode != "intersection":
            # persistent weak tracks: a separate pass, so that they only add regions (the tracks above are
            # exactly those of a run without them)
            persist = _persistent(tables, params, temporal)
            if len(persist):
                pb = persist[["x", "y", "w", "h"]].to_numpy(np.float64)
                pf, pb, psc, psrc, ptrack, pfactor = _cover(
                    persist["frame_index"].to_numpy(np.int64), pb, persist["score"].to_numpy(np.float64),
                    np.full(len(pb), PERSIST, dtype=object), np.ones(len(pb), dtype=bool), temporal, n_frames,
                    width, height)
                ptrack = ptrack + (int(track.max()) + 1 if len(track) else 0)
                f, b, sc = np.concatenate([f, pf]), np.concatenate([b, pb]), np.concatenate([sc, psc])
                src_arr, track = np.concatenate([src_arr, psrc]), np.concatenate([track, ptrack])
                factor = np.concatenate([factor, pfactor])
    if not len(f):
        return empty_regions()
    scaled = scale_about_centre(b, params.enlarge * factor)
    ib = to_int_pixels(clip_to_frame(scaled, width, height), width, height)
    keep = (ib[:, 2] > 0) & (ib[:, 3] > 0)
    df = pd.DataFrame({
        "frame_index": f[keep], "x": ib[keep, 0], "y": ib[keep, 1], "w": ib[keep, 2], "h": ib[keep, 3],
        "shape": params.shape, "source": src_arr[keep].astype(str), "score": sc[keep], "track_id": track[keep],
    }).sort_values(["frame_index", "track_id"], kind="stable").reset_index(drop=True)
    if df.empty:
        return empty_regions()
    df.insert(1, "region_id", np.arange(len(df), dtype=np.int64))
    return df[list(REGION_COLUMNS)].astype(REGION_COLUMNS)
