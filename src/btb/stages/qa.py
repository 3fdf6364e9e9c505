"""The QA report stage (environment ``envs/video.yaml``): a self-contained HTML page per video, made from the
de-identified output only."""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pandas as pd

from btb.audit.io import read_json
from btb.regions.tables import read_detections, read_regions
from btb.release.qa import item_strips, write_video_report
from btb.samples import is_image
from btb.video.frames import iter_normalised, read_frame_table
from btb.video.image import read_image


def qa_report(*, deliverable: str, detections: dict[str, str], regions: str, flags: str, items: str,
              verdict_json: str, frame_table: str, out: str, video_id: str, thresholds: dict[str, float]) -> None:
    """``detections``: detector name -> its detection table; ``thresholds``: their decision thresholds."""
    fl = pd.read_csv(flags, sep="\t")
    it = pd.read_csv(items, sep="\t", keep_default_na=False, na_values=[""])
    it["reason"] = it["reason"].fillna("").astype(str)
    if not len(it):
        frames: Iterator[tuple[int, np.ndarray]] = iter(())
    elif is_image(deliverable):
        frames = iter([(0, read_image(deliverable))])
    else:
        frames = ((f.index, f.image) for f in iter_normalised(deliverable))
    write_video_report(out, video_id, len(read_frame_table(frame_table)),
                       {name: read_detections(path) for name, path in detections.items()},
                       thresholds, read_regions(regions), fl, read_json(verdict_json), it,
                       item_strips(frames, it, fl))
