"""Region stages (environment ``envs/detect.yaml``): the cascade's frame selection, and the merge of the
detection tables into the blur-region table."""

from __future__ import annotations

from typing import Any

import pandas as pd

from btb.audit.io import write_tsv
from btb.audit.records import stage_record
from btb.regions.cascade import CascadeRule, select_uncertain_frames
from btb.regions.manual import manual_region_rows
from btb.regions.merge import MergeParams, merge_detections, temporal_params
from btb.regions.tables import read_detections, write_regions
from btb.release.manual import read_manual
from btb.video.frames import read_frame_table


def select_cascade_frames(*, first_stage: str, frame_table: str, out: str, audit: str, video_id: str,
                          threshold: float, uncertain_floor: float, neighbours: int) -> None:
    """The frames the first-stage detector's table (``first_stage``) leaves uncertain, with the reason."""
    rule = CascadeRule(threshold, uncertain_floor, neighbours)
    with stage_record("select_cascade_frames", video_id, rule.__dict__, audit) as rec:
        rec.add_inputs(first_stage, frame_table)
        n_frames = len(read_frame_table(frame_table))
        sel = select_uncertain_frames(read_detections(first_stage), n_frames, rule)
        write_tsv(out, sel)
        rec.add_outputs(out)
        rec.counts = {"frames": n_frames, "frames_selected": len(sel),
                      **{f"reason_{k}": int(v) for k, v in sel["reason"].value_counts().items()}}


def merge_regions(*, detections: dict[str, str], probe_json: str, frame_table: str, out: str, audit: str,
                  video_id: str, merge: dict[str, Any], manual: str | None = None) -> None:
    """``detections``: detector name -> its gathered table; ``merge``: the configuration's merge section;
    ``manual``: the regions reviewers added (``btb.release.manual``), blurred as drawn."""
    with stage_record("merge_regions", video_id, merge, audit) as rec:
        rec.add_inputs(*detections.values(), probe_json, frame_table, *([manual] if manual else []))
        info = pd.read_json(probe_json, typ="series")
        n_frames = len(read_frame_table(frame_table))
        tables = {name: read_detections(path) for name, path in detections.items()}
        regions = merge_detections(tables, MergeParams.from_config(merge), int(info["width"]), int(info["height"]),
                                   temporal_params(merge), n_frames)
        by_hand = read_manual(manual) if manual else []
        if by_hand:
            rows = manual_region_rows(by_hand, int(regions["region_id"].max()) + 1 if len(regions) else 0,
                                      int(regions["track_id"].max()) + 1 if len(regions) else 0, n_frames)
            regions = pd.concat([regions, rows[list(regions.columns)]], ignore_index=True)
            regions = regions.sort_values(["frame_index", "region_id"], kind="stable").reset_index(drop=True)
            rec.notes["manual_regions"] = [{k: r[k] for k in ("id", "first_frame", "last_frame", "x", "y", "w", "h",
                                                              "reviewer", "reason")} for r in by_hand]
        write_regions(regions, out)
        rec.add_outputs(out)
        with_region = int(regions["frame_index"].nunique())
        rec.counts = {"blur_regions": len(regions), "frames_with_region": with_region,
                      "tracks": int(regions.loc[regions["track_id"] >= 0, "track_id"].nunique()),
                      "frames_without_region": n_frames - with_region,
                      **{f"regions_from_{k}": int(v) for k, v in regions["source"].value_counts().items()}}
