"""The tables that flow between stages: detections and blur regions.

Both are pandas DataFrames with a fixed column set, stored as Parquet. ``DETECTION_COLUMNS`` is the
contract of every detector's output; ``REGION_COLUMNS`` is the contract that blurring, evaluation and
auditing read (the exact pixel areas that are blurred).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from btb.audit.io import atomic_output

LANDMARK_COLUMNS = [f"lm{i}_{axis}" for i in range(5) for axis in ("x", "y")]

DETECTION_COLUMNS: dict[str, str] = {
    "frame_index": "int64",
    "detector": "string",
    "pass_scale": "float64",
    "score": "float64",
    "x": "float64",
    "y": "float64",
    "w": "float64",
    "h": "float64",
    **{c: "float64" for c in LANDMARK_COLUMNS},
}

REGION_SHAPES = ("ellipse", "box")  # the blurred pixels of a region: its box, or the ellipse inscribed in it

REGION_COLUMNS: dict[str, str] = {
    "frame_index": "int64",
    "region_id": "int64",
    "x": "int64",
    "y": "int64",
    "w": "int64",
    "h": "int64",
    "shape": "string",
    "source": "string",
    "score": "float64",
    "track_id": "int64",  # -1 when temporal coverage is off
}


def _typed(df: pd.DataFrame, columns: dict[str, str], what: str) -> pd.DataFrame:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ValueError(f"{what} table lacks columns {missing}")
    return df[list(columns)].astype(columns).reset_index(drop=True)


def empty_detections() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in DETECTION_COLUMNS.items()})


def empty_regions() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in REGION_COLUMNS.items()})


def detections_frame(
    frame_index: int | np.ndarray,
    detector: str,
    boxes: np.ndarray,
    scores: np.ndarray,
    landmarks: np.ndarray,
    pass_scale: np.ndarray | float = 1.0,
) -> pd.DataFrame:
    """Build a typed detection table from arrays (boxes (N,4) xywh, landmarks (N,10)): of one frame, or of
    many with ``frame_index`` an (N,) array (one table per stage, not one per frame: far cheaper)."""
    n = len(boxes)
    if n == 0:
        return empty_detections()
    data: dict[str, object] = {
        "frame_index": np.broadcast_to(np.asarray(frame_index, dtype=np.int64), (n,)),
        "detector": [detector] * n,
        "pass_scale": np.broadcast_to(np.asarray(pass_scale, dtype=np.float64), (n,)),
        "score": np.asarray(scores, dtype=np.float64),
        "x": boxes[:, 0],
        "y": boxes[:, 1],
        "w": boxes[:, 2],
        "h": boxes[:, 3],
    }
    lm = np.asarray(landmarks, dtype=np.float64).reshape(n, 10)
    for i, c in enumerate(LANDMARK_COLUMNS):
        data[c] = lm[:, i]
    return _typed(pd.DataFrame(data), DETECTION_COLUMNS, "detection")


def concat_detections(parts: list[pd.DataFrame]) -> pd.DataFrame:
    parts = [p for p in parts if len(p)]
    if not parts:
        return empty_detections()
    return _typed(pd.concat(parts, ignore_index=True), DETECTION_COLUMNS, "detection")


def write_table(df: pd.DataFrame, path: str | Path, columns: dict[str, str], what: str) -> None:
    """Write a typed table to Parquet atomically (temporary name, then rename)."""
    with atomic_output(path) as tmp:
        _typed(df, columns, what).to_parquet(tmp, index=False)


def read_detections(path: str | Path) -> pd.DataFrame:
    return _typed(pd.read_parquet(path), DETECTION_COLUMNS, "detection")


def read_regions(path: str | Path) -> pd.DataFrame:
    return _typed(pd.read_parquet(path), REGION_COLUMNS, "region")


def regions_by_frame(regions: pd.DataFrame) -> dict[int, pd.DataFrame]:
    """A region table split by frame (frames without a region are absent)."""
    return {int(k): g for k, g in regions.groupby("frame_index")}


def arrays_by_frame(table: pd.DataFrame, columns: list[str]) -> dict[int, np.ndarray]:
    """Frame -> the table's ``columns`` of that frame's rows (float64, in table order); frames without a row
    are absent. One sort and split: a pandas group per frame cost 2-4 ms each on long videos."""
    frames = table["frame_index"].to_numpy(dtype=np.int64)
    order = np.argsort(frames, kind="stable")
    frames, values = frames[order], table[columns].to_numpy(dtype=np.float64)[order]
    if not len(frames):
        return {}
    starts = np.flatnonzero(np.r_[True, frames[1:] != frames[:-1]])
    return {int(frames[a]): part for a, part in zip(starts, np.split(values, starts[1:]), strict=True)}


def write_detections(df: pd.DataFrame, path: str | Path) -> None:
    write_table(df, path, DETECTION_COLUMNS, "detection")


def write_regions(df: pd.DataFrame, path: str | Path) -> None:
    write_table(df, path, REGION_COLUMNS, "region")
