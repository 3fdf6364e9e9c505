"""The QA report stage (environment ``envs/video.yaml``): a self-contained HTML page per video, made from the
de-identified output only."""

from __future__ import annotations

import pandas as pd

from btb.audit.io import read_json
from btb.regions.tables import read_detections, read_regions
from btb.release.qa import MAX_THUMBS, write_video_report
from btb.samples import is_image
from btb.video.frames import iter_normalised, read_frame_table
from btb.video.image import read_image


def qa_report(*, deliverable: str, detections: dict[str, str], regions: str, flags: str, verdict_json: str,
              frame_table: str, out: str, video_id: str, thresholds: dict[str, float]) -> None:
    """``detections``: detector name -> its detection table; ``thresholds``: their decision thresholds."""
    fl = pd.read_csv(flags, sep="\t")
    wanted = set(fl.sort_values("score", ascending=False).drop_duplicates("frame_index")
                 .head(MAX_THUMBS)["frame_index"].astype(int))
    if is_image(deliverable):
        frames = {0: read_image(deliverable)} if wanted else {}
    else:
        frames = {f.index: f.image for f in iter_normalised(deliverable) if f.index in wanted}
    write_video_report(out, video_id, len(read_frame_table(frame_table)),
                       {name: read_detections(path) for name, path in detections.items()},
                       thresholds, read_regions(regions), fl, read_json(verdict_json), frames)
