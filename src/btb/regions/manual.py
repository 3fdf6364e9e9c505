"""The regions reviewers drew by hand (``btb.release.manual``) as rows of the blur-region table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def manual_region_rows(regions: list[dict[str, Any]], first_region_id: int, first_track_id: int,
                       n_frames: int) -> pd.DataFrame:
    """Region-table rows (``btb.regions.tables.REGION_COLUMNS``) for the manual regions: one per frame of each
    region's range, the whole box blurred (shape ``box``), source ``manual``, score 1, one track per region."""
    rows = []
    for k, r in enumerate(regions):
        last = min(int(r["last_frame"]), n_frames - 1)
        for f in range(int(r["first_frame"]), last + 1):
            rows.append((f, int(r["x"]), int(r["y"]), int(r["w"]), int(r["h"]), first_track_id + k))
    df = pd.DataFrame(rows, columns=["frame_index", "x", "y", "w", "h", "track_id"])
    df.insert(1, "region_id", np.arange(first_region_id, first_region_id + len(df), dtype=np.int64))
    df["shape"] = "box"
    df["source"] = "manual"
    df["score"] = 1.0
    return df
