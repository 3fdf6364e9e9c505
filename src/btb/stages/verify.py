"""Residual verification (environment ``envs/detect.yaml``, or ``envs/detect-gpu.yaml`` with ``detect.device:
cuda``): the de-identified output against the detections, the head locator and its own regions; a face not
inside the blur, or a frame that is not what its regions say, is a flag."""

from __future__ import annotations

from typing import Any

from btb.audit.hashing import sha256_file
from btb.audit.io import write_json, write_tsv
from btb.audit.records import stage_record
from btb.detect.factory import make_detector
from btb.regions.blur import BlurParams
from btb.regions.tables import read_detections, read_regions
from btb.release.items import ItemParams, frame_seconds, review_items
from btb.release.motion import MotionCheck, MotionParams
from btb.release.render import RenderCheck, RenderParams
from btb.release.residual import POSE, ResidualParams, stored_by_frame, verdict, verify_frames
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
                    source: str | None = None, merge_thresholds: dict[str, float] | None = None,
                    blur: dict[str, Any] | None = None) -> None:
    """Verify the de-identified ``output`` (``btb.release.residual``): every face detector's detections stored
    for the input (``tables``: detector -> detection table) are checked against the blur on every frame, and so
    are the head locator's heads found on the input; the locator, run on the input frame (``source``, the input
    file) of each flagged frame, explains face-detector flags. With ``verify['render']['enabled']``, every
    output frame is compared with its input frame blurred by the regions (``blur``: the blur settings the
    encoder used). The ``verify['redetect']`` face detectors of ``models`` (name -> model file), if any, run
    again on the output instead of having their stored detections checked (with ``verify['every']`` > 1: on
    every n-th frame only, and their stored detections too). Flags are grouped into review items (``items_out``;
    frame times from ``frame_table``)."""
    params = ResidualParams(thresholds=dict(verify["thresholds"]), min_covered=float(verify["min_covered"]),
                            every=int(verify["every"]))
    off = [name for name in verify["redetect"] if name not in models or name == POSE]
    if off:
        raise ValueError(f"verify.redetect names {', '.join(off)}, not among this run's face detectors "
                         f"({', '.join(models)})")
    redetect = list(verify["redetect"])
    settings = verify["render"]
    render = RenderCheck(RenderParams(**{k: v for k, v in settings.items() if k != "enabled"}),
                         BlurParams(**(blur or {}))) if settings["enabled"] else None
    if render is not None and source is None:
        raise ValueError("the render check needs the input file (source)")
    checked = [name for name in models if name != POSE and (name not in redetect or params.every > 1)]
    if POSE in models:
        checked.append(POSE)
    missing = [name for name in checked if name not in (tables or {})]
    if missing:
        raise ValueError(f"verification needs the stored detection tables of {', '.join(missing)}")
    with stage_record("verify_residual", video_id, verify, audit) as rec:
        rec.add_inputs(output, regions, frame_table, *models.values())
        read = {name: stored_by_frame(read_detections(tables[name])) for name in checked}  # type: ignore[index]
        if read:
            rec.add_inputs(*(tables[name] for name in read))  # type: ignore[index]
        heads = read.pop(POSE, None)
        built = {name: make_detector(name, models[name], detect[name], threads, detect["device"])
                 for name in [*redetect, *([POSE] if POSE in models else [])]}
        locator = built.pop(POSE, None)
        frames = iter([(0, read_image(output))]) if is_image(output) else (
            (f.index, f.image) for f in iter_normalised(output))
        inputs = None
        if (locator is not None or render is not None) and source is not None:
            rec.add_inputs(source)
            inputs = iter([(0, read_image(source))]) if is_image(source) else (
                (f.index, f.image) for f in iter_normalised(source))
        motion = verify["motion"]
        check = MotionCheck(MotionParams(min_speed=float(motion["min_speed"]), min_size=float(motion["min_size"]),
                                         max_moving_share=float(motion["max_moving_share"]))
                            ) if motion["enabled"] else None
        flags, n, detected = verify_frames(frames, read_regions(regions), built, params, read, heads=heads,
                                           locator=locator, inputs=inputs, motion=check, render=render)
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
        rec.notes["redetected"] = redetect
        rec.notes["stored_checked"] = [*read, *([POSE] if heads is not None else [])]
        rec.notes["motion_checked"] = check is not None
        rec.notes["render_checked"] = render is not None
