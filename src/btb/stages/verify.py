"""Residual verification (environment ``envs/detect.yaml``, or ``envs/detect-gpu.yaml`` with ``detect.device:
cuda``): the detectors again on the de-identified output; a face not inside the blur is a flag."""

from __future__ import annotations

from typing import Any

from btb.audit.hashing import sha256_file
from btb.audit.io import write_json, write_tsv
from btb.audit.records import stage_record
from btb.detect.factory import make_detector
from btb.regions.tables import read_detections, read_regions
from btb.release.items import ItemParams, frame_seconds, review_items
from btb.release.residual import POSE, ResidualParams, verdict, verify_frames
from btb.samples import is_image
from btb.video.frames import iter_normalised, read_frame_table
from btb.video.image import read_image


def item_params(items: dict[str, Any], confident: dict[str, float] | None = None) -> ItemParams:
    """``verify.items`` of the configuration as ItemParams; ``confident``: ``merge.thresholds``."""
    return ItemParams(link_gap_s=float(items["link_gap_s"]), link_iou=float(items["link_iou"]),
                      link_distance=float(items["link_distance"]), min_face_px=float(items["min_face_px"]),
                      dismiss_features_blurred=bool(items["dismiss_features_blurred"]),
                      weak_max_frames=int(items["weak_max_frames"]),
                      confident=dict(confident) if confident else None)


def verify_residual(*, output: str, regions: str, models: dict[str, str], flags_out: str, verdict_out: str,
                    audit: str, video_id: str, detect: dict[str, Any], verify: dict[str, Any], threads: int,
                    frame_table: str, items_out: str, tables: dict[str, str] | None = None,
                    source: str | None = None, merge_thresholds: dict[str, float] | None = None) -> None:
    """Detect again on the de-identified ``output`` with every face detector of ``models`` (name -> model file)
    and flag detections not inside a blur region; check the head locator's heads found on the input (its table
    in ``tables``) against the output's blur, and let it explain face-detector flags from the input frame
    (``source``, the input file); group the flags into review items (``items_out``; frame times from
    ``frame_table``). With ``verify['every']`` > 1, the face detectors run on every n-th frame only, plus every
    frame's stored input detections (``tables``: detector -> detection table) checked against the blur."""
    params = ResidualParams(thresholds=dict(verify["thresholds"]), min_covered=float(verify["min_covered"]),
                            every=int(verify["every"]))
    if params.every > 1 and not tables:
        raise ValueError("verify.every > 1 needs the stored detection tables")
    with stage_record("verify_residual", video_id, verify, audit) as rec:
        rec.add_inputs(output, regions, frame_table, *models.values())
        read = {name: {int(k): g for k, g in read_detections(path).groupby("frame_index")}
                for name, path in (tables or {}).items() if params.every > 1 or name == POSE}
        if read:
            rec.add_inputs(*(tables[name] for name in read))  # type: ignore[index]
        heads = read.pop(POSE, None)
        stored = read if params.every > 1 else {}
        built = {name: make_detector(name, path, detect[name], threads, detect["device"])
                 for name, path in models.items()}
        locator = built.pop(POSE, None)
        frames = iter([(0, read_image(output))]) if is_image(output) else (
            (f.index, f.image) for f in iter_normalised(output))
        inputs = None
        if locator is not None and source is not None:
            rec.add_inputs(source)
            inputs = iter([(0, read_image(source))]) if is_image(source) else (
                (f.index, f.image) for f in iter_normalised(source))
        flags, n, detected = verify_frames(frames, read_regions(regions), built, params, stored, heads=heads,
                                           locator=locator, inputs=inputs)
        times = frame_seconds(read_frame_table(frame_table))
        # the weak rule needs the head locator's word that no head is there
        confident = merge_thresholds if inputs is not None else None
        items, flags = review_items(flags, times, item_params(verify["items"], confident))
        write_tsv(flags_out, flags, float_format="%.2f")
        write_tsv(items_out, items, float_format="%.2f")
        result = verdict(flags, n, detected, params.every, items)
        write_json(verdict_out, {"video_id": video_id, **result, "output": output,
                                 "output_sha256": sha256_file(output), "params": verify})
        rec.add_outputs(flags_out, items_out, verdict_out)
        rec.counts = {"frames_checked": n, "frames_detected": detected, "residual_flags": len(flags),
                      "frames_flagged": result["frames_flagged"], "review_items": result["items"],
                      "items_dismissed": result["items_dismissed"]}
        rec.notes["verdict"] = result["verdict"]
