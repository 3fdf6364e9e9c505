"""Cascade mode: which frames the YuNet result leaves uncertain, so RetinaFace must look at them too.

A frame is uncertain when
  * ``no_face``: YuNet has no face at or above the decision threshold;
  * ``low_confidence``: YuNet has a candidate scoring in [uncertain_floor, threshold), i.e. something
    face-like that it would not blur on its own;
  * ``count_change``: the number of confident faces differs from the previous frame's (a face may have been
    lost or gained: both sides of the change are looked at);
and every frame within ``neighbours`` frames of an uncertain frame is sent too (``neighbour``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

REASONS = ("no_face", "low_confidence", "count_change", "neighbour")


@dataclass(frozen=True)
class CascadeRule:
    threshold: float
    uncertain_floor: float
    neighbours: int


def select_uncertain_frames(yunet: pd.DataFrame, n_frames: int, rule: CascadeRule) -> pd.DataFrame:
    """Table ``frame_index, reason`` of the frames to send to the second detector (first reason wins)."""
    idx = yunet["frame_index"].to_numpy()
    scores = yunet["score"].to_numpy()
    confident = np.bincount(idx[scores >= rule.threshold], minlength=n_frames)[:n_frames]
    low = np.bincount(idx[(scores >= rule.uncertain_floor) & (scores < rule.threshold)], minlength=n_frames)[
        :n_frames
    ]
    reason = np.full(n_frames, "", dtype=object)
    reason[(confident == 0)] = "no_face"
    reason[(reason == "") & (low > 0)] = "low_confidence"
    change = np.zeros(n_frames, dtype=bool)
    if n_frames > 1:
        diff = confident[1:] != confident[:-1]
        change[1:] |= diff
        change[:-1] |= diff
    reason[(reason == "") & change] = "count_change"
    core = reason != ""
    if rule.neighbours > 0 and core.any():
        k = rule.neighbours
        # 'full' then the centred slice: correct for clips shorter than the kernel too
        near = np.convolve(core.astype(int), np.ones(2 * k + 1, dtype=int), mode="full")[k : k + n_frames] > 0
        reason[near & ~core] = "neighbour"
    frames = np.flatnonzero(reason != "")
    return pd.DataFrame({"frame_index": frames.astype(np.int64), "reason": reason[frames].astype(str)})
