"""Turn detector tables into the blur-region table: threshold, combine (union / cascade / intersection),
fuse duplicates, enlarge, clip to the frame.

Cascade merges exactly like union: the difference is upstream, where RetinaFace only ran on the frames that
``btb.cascade`` selected, so its table only has rows for those frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from btb.boxes import clip_to_frame, iou_matrix, scale_about_centre, to_int_pixels, to_xyxy
from btb.tables import REGION_COLUMNS, empty_regions

MODES = ("union", "cascade", "intersection")


@dataclass(frozen=True)
class MergeParams:
    mode: str
    thresholds: dict[str, float]  # detector name -> decision threshold
    fuse_iou: float = 0.4  # boxes overlapping at least this much become one region
    match_iou: float = 0.3  # intersection mode: a box must overlap another detector's by this much
    enlarge: float = 1.3
    shape: str = "ellipse"

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise ValueError(f"merge mode must be one of {MODES}, got {self.mode!r}")


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


def _candidates(tables: dict[str, pd.DataFrame], params: MergeParams) -> pd.DataFrame:
    parts = []
    for name, df in tables.items():
        thr = params.thresholds[name]
        kept = df[df["score"] >= thr]
        parts.append(kept[["frame_index", "x", "y", "w", "h", "score"]].assign(source=name))
    parts = [p for p in parts if len(p)]
    if not parts:
        return pd.DataFrame(columns=["frame_index", "x", "y", "w", "h", "score", "source"])
    return pd.concat(parts, ignore_index=True)


def _intersection(frame: pd.DataFrame, params: MergeParams) -> pd.DataFrame:
    names = sorted(frame["source"].unique())
    if len(names) < 2:
        return frame.iloc[0:0]
    a = frame[frame["source"] == names[0]]
    b = frame[frame["source"] == names[1]]
    m = iou_matrix(a[["x", "y", "w", "h"]].to_numpy(), b[["x", "y", "w", "h"]].to_numpy())
    keep_a = (m >= params.match_iou).any(axis=1)
    keep_b = (m >= params.match_iou).any(axis=0)
    return pd.concat([a[keep_a], b[keep_b]])


def merge_detections(
    tables: dict[str, pd.DataFrame], params: MergeParams, width: int, height: int
) -> pd.DataFrame:
    """The blur-region table (``REGION_COLUMNS``) in output-frame pixels."""
    cand = _candidates(tables, params)
    rows: list[tuple] = []
    for frame_index, frame in cand.groupby("frame_index", sort=True):
        if params.mode == "intersection":
            frame = _intersection(frame, params)
            if frame.empty:
                continue
        boxes = frame[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
        fused = _fuse(boxes, frame["score"].to_numpy(), frame["source"].to_numpy(), params.fuse_iou)
        fb = np.stack([f[0] for f in fused])
        fb = to_int_pixels(clip_to_frame(scale_about_centre(fb, params.enlarge), width, height), width, height)
        for (_, score, src), (x, y, w, h) in zip(fused, fb, strict=True):
            if w > 0 and h > 0:
                rows.append((int(frame_index), int(x), int(y), int(w), int(h), params.shape, src, score))
    if not rows:
        return empty_regions()
    df = pd.DataFrame(rows, columns=["frame_index", "x", "y", "w", "h", "shape", "source", "score"])
    df.insert(1, "region_id", np.arange(len(df), dtype=np.int64))
    return df[list(REGION_COLUMNS)].astype(REGION_COLUMNS)
