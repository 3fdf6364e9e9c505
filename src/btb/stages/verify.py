"""Residual verification (environment ``envs/detect.yaml``, or ``envs/detect-gpu.yaml`` with ``detect.device:
cuda``): the detectors again on the de-identified output; a face not inside the blur is a flag."""

from __future__ import annotations

from typing import Any

from btb.audit.hashing import sha256_file
from btb.audit.io import write_json, write_tsv
from btb.audit.records import stage_record
from btb.detect.factory import make_detector
from btb.regions.tables import read_detections, read_regions
from btb.release.residual import ResidualParams, verdict, verify_frames
from btb.samples import is_image
from btb.video.frames import iter_normalised
from btb.video.image import read_image


def verify_residual(*, output: str, regions: str, models: dict[str, str], flags_out: str, verdict_out: str,
                    audit: str, video_id: str, detect: dict[str, Any], verify: dict[str, Any], threads: int,
                    tables: dict[str, str] | None = None) -> None:
    """Detect again on the de-identified ``output`` with every detector of ``models`` (name -> model file) and
    flag detections not inside a blur region. With ``verify['every']`` > 1, on every n-th frame only, plus
    every frame's stored input detections (``tables``: detector -> detection table) checked against the blur."""
    params = ResidualParams(thresholds=dict(verify["thresholds"]), min_covered=float(verify["min_covered"]),
                            every=int(verify["every"]))
    if params.every > 1 and not tables:
        raise ValueError("verify.every > 1 needs the stored detection tables")
    with stage_record("verify_residual", video_id, verify, audit) as rec:
        rec.add_inputs(output, regions, *models.values())
        stored = {}
        if params.every > 1:
            assert tables is not None
            rec.add_inputs(*tables.values())
            stored = {name: {int(k): g for k, g in read_detections(path).groupby("frame_index")}
                      for name, path in tables.items()}
        detectors = {name: make_detector(name, path, detect[name], threads, detect["device"])
                     for name, path in models.items()}
        frames = iter([(0, read_image(output))]) if is_image(output) else (
            (f.index, f.image) for f in iter_normalised(output))
        flags, n, detected = verify_frames(frames, read_regions(regions), detectors, params, stored)
        write_tsv(flags_out, flags, float_format="%.2f")
        result = verdict(flags, n, detected, params.every)
        write_json(verdict_out, {"video_id": video_id, **result, "output": output,
                                 "output_sha256": sha256_file(output), "params": verify})
        rec.add_outputs(flags_out, verdict_out)
        rec.counts = {"frames_checked": n, "frames_detected": detected, "residual_flags": len(flags),
                      "frames_flagged": result["frames_flagged"]}
        rec.notes["verdict"] = result["verdict"]
