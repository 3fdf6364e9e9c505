"""Detection stages (environment ``envs/detect.yaml``, or ``envs/detect-gpu.yaml`` with ``detect.device: cuda``):
one detector over one chunk of a video's frames, and the chunks gathered into the video's detection table."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from btb.audit.io import read_json
from btb.audit.records import stage_record
from btb.detect.base import RawDetections
from btb.detect.factory import make_detector
from btb.regions.tables import concat_detections, detections_frame, read_detections, write_detections
from btb.samples import is_image
from btb.video.frames import iter_chunk, read_frame_table


def detect_chunk(*, detector: str, video: str, frame_table: str, chunk: str, model: str, out: str, audit: str,
                 video_id: str, options: dict[str, Any], threads: int, device: str,
                 only_frames: str | None = None) -> None:
    """Run one detector over one chunk of a video's frames: all of them, or (``only_frames``, a cascade
    selection table) the listed ones."""
    every = 1 if is_image(video) else int(options.get("every", 1))  # a still is one frame
    frames = "cascade selection" if only_frames else "all"
    params = {"detector": detector, **options, "device": device, "threads": threads, "chunk": chunk,
              "frames": frames if every == 1 else f"{frames}, one in {every}"}
    with stage_record(f"detect_{detector}", video_id, params, audit) as rec:
        rec.add_inputs(video, frame_table, model, *([only_frames] if only_frames else []))
        det = make_detector(detector, model, options, threads, device)
        if hasattr(det, "providers"):
            rec.notes["providers"] = det.providers
        table = read_frame_table(frame_table)
        wanted = set(pd.read_csv(only_frames, sep="\t")["frame_index"].astype(int)) if only_frames else None
        if every > 1:
            strided = set(range(0, len(table), every))
            wanted = strided if wanted is None else wanted & strided
        found: list[RawDetections] = []
        indices: list[np.ndarray] = []
        n = 0
        for frame in iter_chunk(video, table, chunk, wanted):
            d = det.detect(frame.image)
            if len(d):
                found.append(d)
                indices.append(np.full(len(d), frame.index, dtype=np.int64))
            n += 1
        raw = RawDetections.concat(found)
        found_table = detections_frame(np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64),
                                       detector, raw.boxes, raw.scores, raw.landmarks, raw.scale)
        write_detections(found_table, out)
        rec.add_outputs(out)
        rec.counts = {"frames_processed": n, "detections_stored": len(found_table),
                      "frames_with_detection": int(found_table["frame_index"].nunique())}


def gather_detections(*, stage: str, parts: list[str], part_audits: list[str], out: str, audit: str,
                      video_id: str) -> None:
    """Join a detector's per-chunk tables (in chunk order) into the video's detection table; its audit record
    adds up the chunks' frame counts and seconds."""
    with stage_record(stage, video_id, {"chunks": len(parts)}, audit) as rec:
        rec.add_inputs(*parts, *part_audits)
        table = concat_detections([read_detections(p) for p in parts])
        write_detections(table, out)
        rec.add_outputs(out)
        chunk_recs = [read_json(p) for p in part_audits]
        rec.counts = {"frames_processed": sum(r["counts"]["frames_processed"] for r in chunk_recs),
                      "detections_stored": len(table), "frames_with_detection": int(table["frame_index"].nunique())}
        rec.notes["chunk_seconds"] = [r["seconds"] for r in chunk_recs]
        rec.notes["providers"] = sorted({p for r in chunk_recs for p in r.get("notes", {}).get("providers", [])})
