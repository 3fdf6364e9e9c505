"""The features tables: what a research group can keep instead of the video.

Built from the blur regions (their tracks and sources) and the detection tables they came from; no pixel is
read. One row per face track and frame (``FACE_COLUMNS``), one row per track (``TRACK_COLUMNS``) and one row
per frame (``FRAME_COLUMNS``). The columns are documented in docs/features.md; nothing in them is a face
crop, a pixel value or an identity embedding.

``status`` of a row: ``detected`` (a face detector's box, with its landmarks; ``temporal_continue`` boxes,
weaker detections on a confident track, included), ``head`` (located by the body-pose head locator only: a
head box, and the face landmarks the body model places), ``filled`` (temporal coverage bridged or extended
the track: the box is interpolated between the track's detected boxes, no landmarks) or ``manual`` (a blur
region a reviewer drew).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from btb.features.headpose import pose_angles
from btb.regions.tables import LANDMARK_COLUMNS, arrays_by_frame

FILLED_SOURCES = ("temporal_fill", "temporal_extend")
CONTINUE_SOURCE = "temporal_continue"

FACE_COLUMNS: dict[str, str] = {
    "track_id": "int64", "frame_index": "int64", "time_s": "float64", "status": "string", "sources": "string",
    "score": "float64",
    "x": "float64", "y": "float64", "w": "float64", "h": "float64",
    "x_norm": "float64", "y_norm": "float64", "w_norm": "float64", "h_norm": "float64",
    **{c: "float64" for c in LANDMARK_COLUMNS},
    "yaw_deg": "float64", "pitch_deg": "float64", "roll_deg": "float64",
    "size_px": "float64", "vx_px_s": "float64", "vy_px_s": "float64", "speed_px_s": "float64",
}
TRACK_COLUMNS: dict[str, str] = {
    "track_id": "int64", "first_frame": "int64", "last_frame": "int64", "first_s": "float64", "last_s": "float64",
    "seconds_on_screen": "float64", "frames": "int64", "frames_detected": "int64", "frames_head": "int64",
    "frames_filled": "int64", "mean_size_px": "float64", "max_speed_px_s": "float64",
    "yaw_mean": "float64", "yaw_min": "float64", "yaw_max": "float64",
    "pitch_mean": "float64", "pitch_min": "float64", "pitch_max": "float64",
    "roll_mean": "float64", "roll_min": "float64", "roll_max": "float64", "sources": "string",
}
FRAME_COLUMNS: dict[str, str] = {"frame_index": "int64", "time_s": "float64", "faces": "int64",
                                 "faces_detected": "int64"}


def _status(source: str) -> str:
    if source in FILLED_SOURCES:
        return "filled"
    if source == "manual":
        return "manual"
    if source == "pose":
        return "head"
    return "detected"


def _match(box: np.ndarray, dets: np.ndarray) -> int | None:
    """Index (into ``dets``, rows x, y, w, h) of the detection a detected region ``box`` came from: the one
    whose centre lies in the box nearest to its centre (regions are detection boxes enlarged about their
    centre)."""
    if not len(dets):
        return None
    cx, cy = dets[:, 0] + dets[:, 2] / 2, dets[:, 1] + dets[:, 3] / 2
    inside = (cx >= box[0]) & (cx <= box[0] + box[2]) & (cy >= box[1]) & (cy <= box[1] + box[3])
    if not inside.any():
        return None
    d2 = np.where(inside, (cx - (box[0] + box[2] / 2)) ** 2 + (cy - (box[1] + box[3] / 2)) ** 2, np.inf)
    return int(np.argmin(d2))


def _typed(rows: list[dict] | pd.DataFrame, columns: dict[str, str]) -> pd.DataFrame:
    df = pd.DataFrame(rows) if not isinstance(rows, pd.DataFrame) else rows
    for c in columns:
        if c not in df.columns:
            df[c] = pd.Series(dtype=columns[c])
    return df[list(columns)].astype(columns).reset_index(drop=True)


def face_rows(regions: pd.DataFrame, detections: dict[str, pd.DataFrame], times: np.ndarray, width: int,
              height: int) -> pd.DataFrame:
    """One row per region of a face track (``FACE_COLUMNS``): detected rows take the matching detection's box,
    score and landmarks (the face detectors' before the head locator's; a row no detection matches keeps the
    blur region's box and score, without landmarks), filled rows a box interpolated between the track's
    measured boxes."""
    cols = ["x", "y", "w", "h", "score", *LANDMARK_COLUMNS]
    by_frame = {name: arrays_by_frame(t, cols) for name, t in detections.items()}
    # whose landmarks a fused detection takes: RetinaFace's (measured roll error 1-3 degrees, docs/features.md),
    # then the other face detectors', the head locator's last
    order = sorted(detections, key=lambda n: (n == "pose", n != "retinaface", n))
    empty = np.zeros((0, len(cols)))
    rows = []
    for r in regions.itertuples(index=False):
        status = _status(r.source)
        row = {"track_id": r.track_id, "frame_index": r.frame_index, "status": status, "sources": r.source,
               "score": float(r.score), "x": float(r.x), "y": float(r.y), "w": float(r.w), "h": float(r.h)}
        if status in ("detected", "head"):
            box = np.array([r.x, r.y, r.w, r.h], dtype=np.float64)
            names = [n for n in order if n in r.source.split("+")] or order
            for name in names:
                dets = by_frame.get(name, {}).get(int(r.frame_index), empty)
                k = _match(box, dets)
                if k is not None:
                    row.update(dict(zip(cols, dets[k].tolist(), strict=True)))
                    break
        rows.append(row)
    df = _one_track_per_face(_typed(rows, FACE_COLUMNS))
    df = _interpolate_filled(df)
    df["time_s"] = times[df["frame_index"].to_numpy()] if len(df) else []
    df["x_norm"], df["w_norm"] = df["x"] / width, df["w"] / width
    df["y_norm"], df["h_norm"] = df["y"] / height, df["h"] / height
    df["size_px"] = np.sqrt(df["w"] * df["h"])
    # head pose from the face detectors' landmarks only (the head locator's face points are not fitted)
    lm = df[LANDMARK_COLUMNS].to_numpy(dtype=np.float64)
    fit = (df["status"] == "detected").to_numpy()
    poses = np.array([pose_angles(p.reshape(5, 2), width, height) if ok and np.isfinite(p).all()
                      else (math.nan,) * 3 for p, ok in zip(lm, fit, strict=True)]).reshape(-1, 3)
    df["yaw_deg"], df["pitch_deg"], df["roll_deg"] = poses[:, 0], poses[:, 1], poses[:, 2]
    df = _motion(df)
    return _typed(df.sort_values(["frame_index", "track_id"], kind="stable"), FACE_COLUMNS)


RANK = {"detected": 0, "head": 1, "filled": 2, "manual": 3}  # a reviewer's box is larger than the face


def _one_track_per_face(df: pd.DataFrame) -> pd.DataFrame:
    """One track per face. The blur may follow one face with two tracks (the head locator's head box and the
    face detectors' face box, which trade the fused detection from frame to frame): tracks whose boxes hold
    each other's centre in at least half of the frames they share, and are never both detected in one frame
    (two faces side by side, a child's cheek against a parent's), are joined (the lowest id is kept), and of
    a frame's rows of one joined track the best measured one stays (detected, then head, manual, filled;
    then the higher score)."""
    tracked = df[df["track_id"] >= 0]
    same: dict[tuple[int, int], int] = {}
    shared: dict[tuple[int, int], int] = {}
    both_detected: set[tuple[int, int]] = set()
    for _, g in tracked.groupby("frame_index"):
        if len(g) < 2:
            continue
        b = g[["x", "y", "w", "h"]].to_numpy()
        ids = g["track_id"].to_numpy()
        detected = (g["status"] == "detected").to_numpy()
        cx, cy = b[:, 0] + b[:, 2] / 2, b[:, 1] + b[:, 3] / 2
        holds = ((cx[None, :] >= b[:, None, 0]) & (cx[None, :] <= b[:, None, 0] + b[:, None, 2])
                 & (cy[None, :] >= b[:, None, 1]) & (cy[None, :] <= b[:, None, 1] + b[:, None, 3]))
        for i in range(len(g)):
            for j in range(i + 1, len(g)):
                if ids[i] == ids[j]:
                    continue
                key = (min(ids[i], ids[j]), max(ids[i], ids[j]))
                shared[key] = shared.get(key, 0) + 1
                same[key] = same.get(key, 0) + int(holds[i, j] or holds[j, i])
                if detected[i] and detected[j]:
                    both_detected.add(key)
    parent = {int(t): int(t) for t in tracked["track_id"].unique()}

    def root(t: int) -> int:
        while parent[t] != t:
            t = parent[t]
        return t

    members = {t: {t} for t in parent}
    # the surest pairs first; two groups never join when any of their tracks were both detected in one frame
    # (a head track can hold two faces that pass close: it joins the one it follows, not both)
    for (a, b), n in sorted(shared.items(), key=lambda kv: -same.get(kv[0], 0) / kv[1]):
        if same.get((a, b), 0) < n / 2:
            continue
        ra, rb = root(int(a)), root(int(b))
        if ra == rb or any((min(x, y), max(x, y)) in both_detected for x in members[ra] for y in members[rb]):
            continue
        keep, gone = min(ra, rb), max(ra, rb)
        parent[gone] = keep
        members[keep] |= members.pop(gone)
    if all(root(t) == t for t in parent):
        return df
    df = df.copy()
    df["track_id"] = [root(int(t)) if t >= 0 else t for t in df["track_id"]]
    df["_rank"] = df["status"].map(RANK).fillna(4)
    df = df.sort_values(["frame_index", "track_id", "_rank", "score"], ascending=[True, True, True, False])
    keep = (df["track_id"] < 0) | ~df.duplicated(["frame_index", "track_id"])
    return df[keep].drop(columns="_rank").reset_index(drop=True)


def _interpolate_filled(df: pd.DataFrame) -> pd.DataFrame:
    """Boxes of filled rows from the track's measured ones (linear between, held at the ends); landmarks stay
    empty. A track without a measured box keeps the region's box."""
    df = df.copy()
    for _, idx in df[df["track_id"] >= 0].groupby("track_id").groups.items():
        t = df.loc[idx]
        measured = t[t["status"] != "filled"]
        filled = t[t["status"] == "filled"]
        if not len(filled) or not len(measured):
            continue
        m = measured.sort_values("frame_index")
        for c in ("x", "y", "w", "h"):
            df.loc[filled.index, c] = np.interp(filled["frame_index"], m["frame_index"], m[c])
    return df


def _motion(df: pd.DataFrame) -> pd.DataFrame:
    """Box-centre velocity (px/s) against the track's previous row; NaN on a track's first row."""
    df = df.sort_values(["track_id", "frame_index"], kind="stable").copy()
    cx, cy = df["x"] + df["w"] / 2, df["y"] + df["h"] / 2
    same = (df["track_id"] == df["track_id"].shift()) & (df["track_id"] >= 0)
    dt = df["time_s"] - df["time_s"].shift()
    ok = same & (dt > 0)
    df["vx_px_s"] = np.where(ok, (cx - cx.shift()) / dt.where(ok, 1.0), np.nan)
    df["vy_px_s"] = np.where(ok, (cy - cy.shift()) / dt.where(ok, 1.0), np.nan)
    df["speed_px_s"] = np.hypot(df["vx_px_s"], df["vy_px_s"])
    return df


def track_rows(faces: pd.DataFrame, frame_step_s: float) -> pd.DataFrame:
    """One summary row per track (``TRACK_COLUMNS``); rows without a track (temporal coverage off) are left
    out."""
    rows = []
    for track, t in faces[faces["track_id"] >= 0].groupby("track_id"):
        row = {"track_id": track, "first_frame": t["frame_index"].min(), "last_frame": t["frame_index"].max(),
               "first_s": t["time_s"].min(), "last_s": t["time_s"].max(),
               "seconds_on_screen": t["frame_index"].nunique() * frame_step_s, "frames": t["frame_index"].nunique(),
               "frames_detected": int((t["status"] == "detected").sum()),
               "frames_head": int((t["status"] == "head").sum()),
               "frames_filled": int((t["status"] == "filled").sum()),
               "mean_size_px": t["size_px"].mean(), "max_speed_px_s": t["speed_px_s"].max(),
               "sources": ",".join(sorted({s for v in t["sources"] for s in v.split("+")}))}
        for a in ("yaw", "pitch", "roll"):
            v = t[f"{a}_deg"].dropna()
            row.update({f"{a}_mean": v.mean() if len(v) else math.nan, f"{a}_min": v.min() if len(v) else math.nan,
                        f"{a}_max": v.max() if len(v) else math.nan})
        rows.append(row)
    return _typed(rows, TRACK_COLUMNS)


def frame_rows(faces: pd.DataFrame, times: np.ndarray) -> pd.DataFrame:
    """Faces on screen per frame (``FRAME_COLUMNS``): every frame of the video, also those with none."""
    n = len(times)
    counts = np.bincount(faces["frame_index"], minlength=n)[:n] if len(faces) else np.zeros(n, np.int64)
    det = faces[faces["status"] == "detected"]["frame_index"]
    detected = np.bincount(det, minlength=n)[:n] if len(det) else np.zeros(n, np.int64)
    return _typed(pd.DataFrame({"frame_index": np.arange(n), "time_s": times, "faces": counts,
                                "faces_detected": detected}), FRAME_COLUMNS)
