"""Does verification catch what the blur missed? Exposed labeled faces against the review items.

A labeled face is **exposed** in a frame when less than 0.8 of its box is blurred (the privacy metric of
``btb.evaluation.metrics``). It is **caught** when an open review item (``btb.release.items``) is on it: one of
the item's flags is on the face box (its centre inside it, or covering 30 % of it), within ``window_s``
seconds of the frame and inside the item's time range widened by the same window (a reviewer opening the item
sees that stretch of video). It is **set aside** when only dismissed items are on it (the item list says why:
its reason), and **missed** otherwise: a silent leak, the number that must be zero.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from btb.evaluation.metrics import PROTECTED, face_coverages

OVERLAP = 0.3  # share of the face box a flag must cover, unless its centre lies on the face


def on_face(face: np.ndarray, flags: np.ndarray) -> np.ndarray:
    """Whether each flag box (N, 4) is on the face box (4,): its centre inside the face box, or covering at
    least ``OVERLAP`` of it (x, y, w, h)."""
    ix = np.clip(np.minimum(face[0] + face[2], flags[:, 0] + flags[:, 2]) - np.maximum(face[0], flags[:, 0]), 0, None)
    iy = np.clip(np.minimum(face[1] + face[3], flags[:, 1] + flags[:, 3]) - np.maximum(face[1], flags[:, 1]), 0, None)
    cx, cy = flags[:, 0] + flags[:, 2] / 2, flags[:, 1] + flags[:, 3] / 2
    centred = (cx >= face[0]) & (cx <= face[0] + face[2]) & (cy >= face[1]) & (cy <= face[1] + face[3])
    return centred | (ix * iy >= OVERLAP * max(face[2] * face[3], 1e-9))


def exposures(gt: pd.DataFrame, regions: pd.DataFrame, flags: pd.DataFrame, items: pd.DataFrame,
              times: dict[int, float], height: int, width: int, window_s: float = 0.5) -> pd.DataFrame:
    """One row per exposed labeled face: ``frame_index, x, y, w, h, coverage, outcome`` (``caught``,
    ``set_aside`` or ``missed``), ``item`` (the item on it, 0 when none) and ``reason`` (a set-aside item's)."""
    faces = gt[gt["labeled"] == 1].reset_index(drop=True)
    cov = face_coverages(faces, regions, height, width, split=False)
    faces = faces.assign(coverage=cov["coverage"].to_numpy())
    exposed = faces[faces["coverage"] < PROTECTED]
    status = dict(zip(items["item"], items["status"], strict=True)) if len(items) else {}
    reason = dict(zip(items["item"], items["reason"].fillna(""), strict=True)) if len(items) else {}
    span = {int(r.item): (times.get(int(r.first_frame), 0.0) - window_s, times.get(int(r.last_frame), 0.0) + window_s)
            for r in items.itertuples()} if len(items) else {}
    flag_t = np.array([times.get(int(f), 0.0) for f in flags["frame_index"]]) if len(flags) else np.zeros(0)
    boxes = flags[["x", "y", "w", "h"]].to_numpy(dtype=np.float64) if len(flags) else np.zeros((0, 4))
    rows = []
    for r in exposed.itertuples():
        t = times.get(int(r.frame_index), 0.0)
        box = np.array([r.x, r.y, r.w, r.h], dtype=np.float64)
        near = (np.abs(flag_t - t) <= window_s + 1e-9) & on_face(box, boxes) if len(flags) else []
        on = {int(i) for i in flags.loc[near, "item"]} if len(flags) else set()
        on = {i for i in on if span[i][0] <= t <= span[i][1]}
        opened = sorted(i for i in on if status.get(i) == "open")
        aside = sorted(i for i in on if status.get(i) != "open")
        outcome, item, why = ("caught", opened[0], "") if opened else (
            ("set_aside", aside[0], reason[aside[0]]) if aside else ("missed", 0, ""))
        rows.append((int(r.frame_index), float(r.x), float(r.y), float(r.w), float(r.h), float(r.coverage),
                     outcome, item, why))
    return pd.DataFrame(rows, columns=["frame_index", "x", "y", "w", "h", "coverage", "outcome", "item", "reason"])


def summarise_catch(rows: pd.DataFrame, items: pd.DataFrame, seconds: float) -> dict[str, Any]:
    """Per clip: exposed frames and how many were caught, set aside or missed; open items and items per
    minute of video."""
    by_frame = rows.groupby("frame_index")["outcome"].agg(
        lambda o: "missed" if "missed" in set(o) else ("set_aside" if "set_aside" in set(o) else "caught"))
    n_open = int((items["status"] == "open").sum()) if len(items) else 0
    return {
        "exposed_frames": int(len(by_frame)),
        "caught_frames": int((by_frame == "caught").sum()),
        "set_aside_frames": int((by_frame == "set_aside").sum()),
        "missed_frames": int((by_frame == "missed").sum()),
        "caught_share": float((by_frame == "caught").mean()) if len(by_frame) else None,
        "open_items": n_open,
        "dismissed_items": int(len(items) - n_open),
        "seconds": float(seconds),
        "open_items_per_minute": n_open / (seconds / 60) if seconds > 0 else None,
        "missed": [int(f) for f in by_frame.index[by_frame == "missed"]][:200],
    }
