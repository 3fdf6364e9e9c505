"""Review items: residual flags grouped into what a reviewer decides once.

A flag is one detection on one output frame that the blur does not cover (``btb.release.residual``). A face
the pipeline missed gives a flag on each frame it shows in, often from both detectors; a reviewer decides the
whole run of them at once. Flags are linked into **items** across frames the way faces are linked into tracks:
a flag joins the item whose latest box it overlaps (IoU) or is near (centre distance in box sizes), within a
short time gap.

An item is **dismissed**, with the reason recorded, when every one of its flags is one of:

- ``features_blurred``: the detection's five landmarks (eyes, nose tip, mouth corners) all lie on blurred
  pixels. What shows is a box edge (forehead, chin, hair) around a blurred face the detector found again; the
  features that identify a face are under the blur.
- ``too_small``: the detection is shorter than ``min_face_px`` pixels: too small to show an identifiable
  face (a judgement, documented in docs/review.md).
- ``hand`` or ``features_blurred`` from the head locator run on the same frame of the input
  (``btb.release.residual.explain_flags``): the box is on a person's hand and holds no head landmark, or on a
  head whose nose, eyes and mouth are all under the blur; or ``body``: a fast-motion flag
  (``btb.release.motion``) on a person the locator sees, holding no unblurred head of anyone (an arm or a body
  moving; the locator's own head of that person is checked as a ``pose`` flag).
- ``hand_track``: a face-detector flag the locator left unexplained on its frame, whose box is the same
  (IoU >= ``HAND_TRACK_IOU``) as the item's flags explained as ``hand`` within ``HAND_TRACK_FRAMES`` frames
  before it and after it (the locator lost the hand for a frame or two; a flag on a located head is never
  set aside this way);

and, for the item as a whole, ``weak`` (``is_weak``): its remaining flags come from the face detectors, all
below the score at which the pipeline blurs, on no head the locator places, within ``weak_max_frames`` frames.

A ``render`` flag (``btb.release.render``: the file is not what its regions say) is never set aside.

Every other item is **open**: the verdict is ``needs_review`` while one is open. Dismissed items stay in the
table, so a reviewer or auditor can see what was set aside and why.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from btb.regions.boxes import iou_matrix
from btb.release.render import RENDER

ITEM_COLUMNS = {
    "item": "int64", "status": "string", "reason": "string", "first_frame": "int64", "last_frame": "int64",
    "start": "string", "end": "string", "start_s": "float64", "end_s": "float64", "frames": "int64",
    "flags": "int64", "detectors": "string", "max_score": "float64", "best_frame": "int64", "x": "float64",
    "y": "float64", "w": "float64", "h": "float64", "covered": "float64", "features_covered": "float64",
}
OPEN, DISMISSED = "open", "dismissed"
HAND_TRACK_FRAMES = 3  # a hand flag this near, before and after, explains an unexplained flag on the same box
HAND_TRACK_IOU = 0.5
LINK_SIZE_RATIO = 3.0  # flags linked by distance alone differ in size by at most this factor
SET_ASIDE = ("features_blurred", "hand", "body")  # the head locator's explanations that set a flag aside


@dataclass(frozen=True)
class ItemParams:
    """``verify.items`` of the configuration (defaults in its schema)."""

    link_gap_s: float  # flags further apart in time start a new item
    link_iou: float  # a flag overlapping the item's latest box at least this much joins it
    link_distance: float  # ... or whose centre is within this many box sizes of it
    min_face_px: float  # a flag box shorter than this is too small to identify (0: never dismissed as such)
    dismiss_features_blurred: bool  # landmarks all under the blur: a blurred face found again
    weak_max_frames: int = 0  # an item this brief whose flags are all weak is set aside (0: never)
    # detector -> the score at which the pipeline blurs (merge.thresholds); None: no weak rule (it needs the
    # head locator's word that no head is there)
    confident: dict[str, float] | None = None


def mmss(seconds: float) -> str:
    """``mm:ss.s`` (``hh:mm:ss.s`` past an hour)."""
    seconds = max(0.0, float(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{int(h)}:{int(m):02d}:{s:04.1f}" if h else f"{int(m):02d}:{s:04.1f}"


def flag_reason(flag: pd.Series | object, params: ItemParams) -> str:
    """Why one flag is not for a reviewer (``""``: it is). A ``render`` flag (the file differs from its regions)
    always is."""
    if getattr(flag, "detector", "") == RENDER:
        return ""
    explained = getattr(flag, "explained", "")
    if explained == "on_head":  # on a head the locator places, features showing: always for a reviewer
        return ""
    if isinstance(explained, str) and explained in SET_ASIDE:
        return explained
    h = float(flag.h)  # type: ignore[attr-defined]
    feat = float(flag.features_covered)  # type: ignore[attr-defined]
    if params.min_face_px and h < params.min_face_px:
        return "too_small"
    if params.dismiss_features_blurred and not np.isnan(feat) and feat >= 1.0:
        return "features_blurred"
    return ""


def is_weak(item_flags: pd.DataFrame, params: ItemParams) -> bool:
    """Whether an item's open flags are all weak: from face detectors (on the output or stored), each below the score at
    which the pipeline blurs (``confident``; None when the head locator did not run: then nothing is weak), no
    flag of the item on a head the locator places, the whole item within ``weak_max_frames`` frames. No
    detector is sure of a face there, at any moment, and no body carries a head there: a pattern, a toy."""
    if not params.weak_max_frames or not params.confident or item_flags.empty:
        return False
    if item_flags["frame_index"].nunique() > params.weak_max_frames:
        return False
    explained = item_flags["explained"] if "explained" in item_flags else pd.Series("", index=item_flags.index)
    if (explained.astype(str) == "on_head").any():
        return False
    still = item_flags[item_flags["reason"] == ""]
    for label, score in zip(still["detector"], still["score"], strict=True):
        det = str(label).removesuffix(":input")  # a stored input detection: that detector's own score
        if det not in params.confident or det == "pose" or score >= params.confident[det]:
            return False
    return True


def _near(box: np.ndarray, last: np.ndarray, params: ItemParams) -> float:
    """How well ``box`` continues an item whose latest box is ``last``: IoU, or a small positive score when the
    centres are within ``link_distance`` box sizes; -1 when it does not."""
    overlap = float(iou_matrix(box[None], last[None])[0, 0])
    if overlap >= params.link_iou:
        return overlap
    sides = (max(box[2], box[3], 1e-9), max(last[2], last[3], 1e-9))
    if max(sides) > LINK_SIZE_RATIO * min(sides):  # a small box beside a large one: another thing
        return -1.0
    size = max(box[2], box[3], last[2], last[3], 1.0)
    dist = np.hypot(box[0] + box[2] / 2 - last[0] - last[2] / 2, box[1] + box[3] / 2 - last[1] - last[3] / 2)
    return 1e-3 / (1.0 + dist) if dist <= params.link_distance * size else -1.0


def link_flags(flags: pd.DataFrame, times: dict[int, float], params: ItemParams) -> np.ndarray:
    """The item number (0-based) of each flag, in the order of ``flags``: greedy linking frame by frame. An item
    takes one flag per detector per frame: a second one from the same detector on the same frame is another
    face, so it starts or joins another item."""
    order = np.lexsort((-flags["score"].to_numpy(), flags["frame_index"].to_numpy()))
    boxes = flags[["x", "y", "w", "h"]].to_numpy(dtype=np.float64)
    frames = flags["frame_index"].to_numpy()
    detectors = flags["detector"].astype(str).to_numpy()
    item = np.full(len(flags), -1, dtype=np.int64)
    tracks: list[tuple[int, np.ndarray, set[str]]] = []  # per item: last frame, its box, its detectors there
    for i in order:
        f = int(frames[i])
        t = times.get(f, 0.0)
        best, best_score = -1, -1.0
        for k, (last_frame, last_box, seen) in enumerate(tracks):
            if t - times.get(last_frame, 0.0) > params.link_gap_s + 1e-9:
                continue
            if last_frame == f and detectors[i] in seen:
                continue
            score = _near(boxes[i], last_box, params)
            if score > best_score:
                best, best_score = k, score
        if best < 0:
            tracks.append((f, boxes[i], {detectors[i]}))
            best = len(tracks) - 1
        elif f > tracks[best][0]:
            tracks[best] = (f, boxes[i], {detectors[i]})
        else:
            tracks[best][2].add(detectors[i])
        item[i] = best
    return item


def hand_track(item_flags: pd.DataFrame) -> pd.Index:
    """The flags of one item to set aside as ``hand_track``: unexplained face-detector flags (reason and
    ``explained`` empty) with a ``hand`` flag of the item on the same box (IoU >= ``HAND_TRACK_IOU``) within
    ``HAND_TRACK_FRAMES`` frames before and within as many after."""
    if "explained" not in item_flags:
        return item_flags.index[:0]
    hands = item_flags[item_flags["reason"] == "hand"]
    if hands.empty:
        return item_flags.index[:0]
    open_ = item_flags[(item_flags["reason"] == "") & (item_flags["explained"].astype(str) == "")
                       & ~item_flags["detector"].astype(str).isin(("pose", "motion", RENDER))]
    hb = hands[["x", "y", "w", "h"]].to_numpy(np.float64)
    hf = hands["frame_index"].to_numpy()
    out = []
    for idx, r in open_.iterrows():
        same = iou_matrix(np.array([[r.x, r.y, r.w, r.h]], dtype=np.float64), hb)[0] >= HAND_TRACK_IOU
        d = hf - int(r.frame_index)
        if (same & (d < 0) & (d >= -HAND_TRACK_FRAMES)).any() and (same & (d > 0) & (d <= HAND_TRACK_FRAMES)).any():
            out.append(idx)
    return pd.Index(out)


def empty_items() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in ITEM_COLUMNS.items()})


def review_items(flags: pd.DataFrame, times: dict[int, float], params: ItemParams) -> tuple[pd.DataFrame,
                                                                                               pd.DataFrame]:
    """(items, flags with their ``item`` and ``reason`` columns). ``times``: frame index -> seconds from the
    video's start (the frame table's ``pts_time`` less the first frame's)."""
    flags = flags.reset_index(drop=True).copy()
    if flags.empty:
        return empty_items(), flags.assign(item=pd.Series(dtype="int64"), reason=pd.Series(dtype="string"))
    flags["reason"] = [flag_reason(r, params) for r in flags.itertuples(index=False)]
    raw = link_flags(flags, times, params)
    # items numbered by first appearance
    first = {k: flags.loc[raw == k, "frame_index"].min() for k in np.unique(raw)}
    renumber = {k: n + 1 for n, k in enumerate(sorted(first, key=lambda k: (first[k], k)))}
    flags["item"] = [renumber[k] for k in raw]
    rows = []
    for number, g in flags.groupby("item", sort=True):
        best = g.loc[g["score"].idxmax()]
        held = hand_track(g)
        if len(held):
            flags.loc[held, "reason"] = "hand_track"
            g = flags.loc[g.index]
        reasons = set(g["reason"])
        if "" in reasons and is_weak(g, params):
            reasons = (reasons - {""}) | {"weak"}
            flags.loc[g.index[g["reason"] == ""], "reason"] = "weak"
        status = DISMISSED if "" not in reasons else OPEN
        t0, t1 = times.get(int(g["frame_index"].min()), 0.0), times.get(int(g["frame_index"].max()), 0.0)
        rows.append({
            "item": int(number), "status": status,
            "reason": ",".join(sorted(reasons)) if status == DISMISSED else "",
            "first_frame": int(g["frame_index"].min()), "last_frame": int(g["frame_index"].max()),
            "start": mmss(t0), "end": mmss(t1), "start_s": t0, "end_s": t1,
            "frames": int(g["frame_index"].nunique()), "flags": len(g),
            "detectors": ",".join(sorted(set(g["detector"]))), "max_score": float(g["score"].max()),
            "best_frame": int(best["frame_index"]), "x": float(best["x"]), "y": float(best["y"]),
            "w": float(best["w"]), "h": float(best["h"]), "covered": float(g["covered"].min()),
            "features_covered": float(g["features_covered"].min()),
        })
    return pd.DataFrame(rows).astype(ITEM_COLUMNS), flags


def frame_seconds(frame_table: pd.DataFrame) -> dict[int, float]:
    """Frame index -> seconds from the first frame (a still image: {0: 0.0})."""
    if frame_table.empty or "pts_time" not in frame_table:
        return {0: 0.0}
    t = frame_table["pts_time"].astype(float)
    return dict(zip(frame_table["frame_index"].astype(int), t - t.min(), strict=True))
