"""The features stage (environment ``envs/detect.yaml``): the tables of ``btb.features.table`` for one video,
with a sidecar describing the video and the tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from btb.audit.io import atomic_output, write_json
from btb.audit.records import stage_record
from btb.features.table import face_rows, frame_rows, track_rows
from btb.regions.tables import read_detections, read_regions
from btb.video.frames import read_frame_table

FORMAT = "btb-features/1"


def _write(df: pd.DataFrame, path: str, csv: bool) -> list[str]:
    with atomic_output(path) as tmp:
        df.to_parquet(tmp, index=False)
    if not csv:
        return [path]
    csv_path = str(Path(path).with_suffix(".csv"))
    with atomic_output(csv_path, keep_suffix=True) as tmp:
        df.to_csv(tmp, index=False)
    return [path, csv_path]


def extract_features(*, regions: str, detections: dict[str, str], probe_json: str, frame_table: str,
                     faces_out: str, tracks_out: str, frames_out: str, sidecar: str, audit: str, video_id: str,
                     csv: bool) -> None:
    """Per face track and frame, per track and per frame tables (Parquet; CSV beside them with ``csv``) and
    ``features.json``: frame size, rate, duration and the tables' row counts."""
    with stage_record("extract_features", video_id, {"csv": csv, "format": FORMAT}, audit) as rec:
        rec.add_inputs(regions, *detections.values(), probe_json, frame_table)
        info = pd.read_json(probe_json, typ="series")
        width, height = int(info["width"]), int(info["height"])
        table = read_frame_table(frame_table)
        times = table["pts_time"].to_numpy(dtype=np.float64) - float(table["pts_time"].iloc[0]) if len(table) \
            else np.zeros(0)
        step = float(np.median(np.diff(times))) if len(times) > 1 else 0.0
        faces = face_rows(read_regions(regions), {n: read_detections(p) for n, p in detections.items()}, times,
                          width, height)
        tracks = track_rows(faces, step)
        frames = frame_rows(faces, times)
        written = [*_write(faces, faces_out, csv), *_write(tracks, tracks_out, csv), *_write(frames, frames_out, csv)]
        meta = {"format": FORMAT, "video_id": video_id, "width": width, "height": height,
                "frames": len(table), "fps": round(1 / step, 6) if step > 0 else None,
                "duration_s": round(float(times[-1] + step), 6) if len(times) else 0.0,
                "tables": {"faces": Path(faces_out).name, "tracks": Path(tracks_out).name,
                           "frames": Path(frames_out).name},
                "rows": {"faces": len(faces), "tracks": len(tracks), "frames": len(frames)},
                "contains": "boxes, landmarks, scores, head pose and motion of faces; no pixels, crops or identity "
                            "embeddings (docs/features.md)"}
        write_json(sidecar, meta)
        rec.add_outputs(*written, sidecar)
        rec.counts = {"face_rows": len(faces), "tracks": len(tracks),
                      **{f"rows_{k}": int(v) for k, v in faces["status"].value_counts().items()}}


def bundle_features(*, tables: dict[str, str], sidecar: str, out: str, check_out: str, audit: str,
                    video_id: str) -> None:
    """The features deliverable (``outputs.video: false``): its check (``check_out``) first, then the zip of
    the checked Parquet tables and the sidecar (CSV copies stay in the lab: a reader makes them from the
    Parquet files). A failed check is an error: nothing that fails it is bundled."""
    from btb.errors import BTBError
    from btb.features.bundle import check_tables, write_bundle

    with stage_record("bundle_features", video_id, {"format": FORMAT}, audit) as rec:
        rec.add_inputs(*tables.values(), sidecar)
        check = check_tables(tables, sidecar)
        if not check["passed"]:
            raise BTBError(f"features of {video_id} fail their check: " + "; ".join(check["problems"]))
        write_bundle([*tables.values(), sidecar], out)
        write_json(check_out, check)
        rec.add_outputs(out, check_out)
        rec.counts = {f"rows_{k}": v for k, v in check["rows"].items()}
