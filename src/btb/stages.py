"""One function per workflow stage. Workflow scripts are thin adapters onto these; tests call them directly.

Each stage reads its inputs, writes its outputs atomically and writes an audit record (see ``btb.audit``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from btb import models
from btb.audit import stage_record, write_json, write_tsv
from btb.blur import BlurParams, blur_frame
from btb.cascade import CascadeRule, select_uncertain_frames
from btb.detect.base import RawDetections
from btb.errors import InputError, ModelError
from btb.hashing import sha256_file
from btb.image import check_image, probe_image, read_image, write_image
from btb.merge import MergeParams, merge_detections, temporal_params
from btb.samples import is_image
from btb.tables import concat_detections, detections_frame, read_detections, write_detections, write_regions
from btb.video.encode import EncodeParams, encode_frames, encode_video
from btb.video.frames import (
    FFV1Writer,
    Frame,
    chunk_ranges,
    concat_nut,
    image_frame_table,
    index_frames,
    iter_normalised,
    iter_video_frames,
    nominal_rate,
    parse_chunk_label,
    private_file,
)
from btb.video.probe import probe_video

log = logging.getLogger("btb")


# ----------------------------------------------------------------------------------------------- models
def stage_yunet(out: str, audit: str, mirror: str | None) -> None:
    with stage_record("stage_yunet", None, {"mirror": mirror, **_source("yunet_2023mar")}, audit) as rec:
        models.stage_model("yunet_2023mar", out, mirror)
        rec.add_outputs(out)


def stage_retinaface(graph: str, onnx: str, audit: str, mirror: str | None, score_floor: float) -> None:
    params = {"mirror": mirror, "score_floor": score_floor, **_source("retinaface_mnv2")}
    with stage_record("stage_retinaface", None, params, audit) as rec:
        models.stage_model("retinaface_mnv2", graph, mirror)
        rec.notes["conversion"] = models.convert_retinaface(graph, onnx, score_floor)
        models.write_sidecar(onnx)
        rec.add_outputs(graph, onnx)


def stage_centerface(src: str, onnx: str, audit: str, mirror: str | None) -> None:
    with stage_record("stage_centerface", None, {"mirror": mirror, **_source("centerface")}, audit) as rec:
        models.stage_model("centerface", src, mirror)
        rec.notes["conversion"] = models.convert_centerface(src, onnx)
        models.write_sidecar(onnx)
        rec.add_outputs(src, onnx)


def _source(model_id: str) -> dict[str, Any]:
    s = models.SOURCES[model_id]
    return {"model_id": s.model_id, "pinned_sha256": s.sha256, "origin": s.origin, "licence": s.licence}


# ----------------------------------------------------------------------------------------------- frames
def probe(video: str, out: str, video_id: str) -> dict[str, Any]:
    if is_image(video):
        info = probe_image(video)
    else:
        info = {"media": "video", **probe_video(video).to_dict()}
    write_json(out, {"video_id": video_id, **info})
    return info


def index_video_frames(video: str, frame_table: str, audit: str, video_id: str) -> None:
    """The frame table: one decoding pass (frames are not stored; later stages decode the source again)."""
    with stage_record("index_frames", video_id, {}, audit) as rec:
        rec.add_inputs(video)
        table = image_frame_table() if is_image(video) else index_frames(video)
        write_tsv(frame_table, table)
        rec.add_outputs(frame_table)
        rec.counts = {"frames": len(table)}


def iter_chunk(video: str, table: pd.DataFrame, chunk: str, wanted: set[int] | None = None) -> Iterator[Frame]:
    """The frames of one chunk (``"2of4"``) of a video, or the single frame of a still image."""
    if is_image(video):
        yield Frame(0, 0, Fraction(1, 1), read_image(video))
        return
    part, chunks = parse_chunk_label(chunk)
    start, stop = chunk_ranges(len(table), chunks)[part - 1]
    yield from iter_video_frames(video, table, start, stop, wanted)


# -------------------------------------------------------------------------------------------- detection
def make_detector(name: str, model: str, cfg: dict[str, Any], threads: int, device: str):  # noqa: ANN201
    if name == "yunet":
        models.verify_model("yunet_2023mar", model)
        if device != "cpu":
            log.info("YuNet runs on the CPU whatever detect.device says (OpenCV's DNN module here has no CUDA)")
        from btb.detect.yunet import YuNetDetector

        return YuNetDetector(model, score_floor=cfg["score_floor"], nms_iou=cfg["nms_iou"],
                             downscaled_long_side=cfg["downscaled_long_side"] or None, threads=threads)
    if name == "retinaface":
        if cfg.get("backbone", "mobilenetv2") == "resnet50":
            weights = cfg.get("resnet50_weights") or ""
            if not weights or not Path(weights).is_file():
                raise ModelError(
                    f"detect.retinaface.backbone is resnet50 but its weights file retinaface.h5 is not at "
                    f"{weights or '(detect.retinaface.resnet50_weights is empty)'}: download retinaface.h5 (the "
                    "'retina-face' PyPI package fetches it into $DEEPFACE_HOME/.deepface/weights/ on first use) "
                    "and set detect.retinaface.resnet50_weights to its path"
                )
            raise ModelError("the resnet50 backbone is not available in this version; use mobilenetv2")
        from btb.detect.retinaface import RetinaFaceDetector

        models.verify_sidecar(model)
        return RetinaFaceDetector(model, score_floor=cfg["score_floor"],
                                  downscaled_long_side=cfg["downscaled_long_side"] or None,
                                  threads=threads, device=device)
    if name == "centerface":
        from btb.detect.centerface import CenterFaceDetector

        models.verify_sidecar(model)
        return CenterFaceDetector(model, score_floor=cfg["score_floor"], nms_iou=cfg["nms_iou"],
                                  downscaled_long_side=cfg["downscaled_long_side"] or None,
                                  threads=threads, device=device)
    raise ValueError(f"unknown detector {name!r}")


def detect(name: str, video: str, frame_table: str, chunk: str, model: str, out: str, audit: str, video_id: str,
           cfg: dict[str, Any], threads: int, device: str, only_frames: str | None = None) -> None:
    """Run one detector over one chunk of a video's frames (all frames, or the cascade's selection)."""
    params = {"detector": name, **cfg, "device": device, "threads": threads, "chunk": chunk,
              "frames": "cascade selection" if only_frames else "all"}
    with stage_record(f"detect_{name}", video_id, params, audit) as rec:
        rec.add_inputs(video, frame_table, model, *([only_frames] if only_frames else []))
        detector = make_detector(name, model, cfg, threads, device)
        if hasattr(detector, "providers"):
            rec.notes["providers"] = detector.providers
        wanted = None
        if only_frames:
            wanted = set(pd.read_csv(only_frames, sep="\t")["frame_index"].astype(int))
        found: list[RawDetections] = []
        indices: list[np.ndarray] = []
        n = 0
        for frame in iter_chunk(video, pd.read_csv(frame_table, sep="\t"), chunk, wanted):
            d: RawDetections = detector.detect(frame.image)
            if len(d):
                found.append(d)
                indices.append(np.full(len(d), frame.index, dtype=np.int64))
            n += 1
        raw = RawDetections.concat(found)
        table = detections_frame(np.concatenate(indices) if indices else np.zeros(0, dtype=np.int64), name,
                                 raw.boxes, raw.scores, raw.landmarks, raw.scale)
        write_detections(table, out)
        rec.add_outputs(out)
        rec.counts = {"frames_processed": n, "detections_stored": len(table),
                      "frames_with_detection": int(table["frame_index"].nunique())}


def gather_detections(name: str, parts: list[str], part_audits: list[str], out: str, audit: str,
                      video_id: str) -> None:
    """Join a detector's per-chunk tables (in chunk order) into the video's detection table; its audit record
    adds up the chunks' frame counts and seconds."""
    with stage_record(name, video_id, {"chunks": len(parts)}, audit) as rec:
        rec.add_inputs(*parts, *part_audits)
        table = concat_detections([read_detections(p) for p in parts])
        write_detections(table, out)
        rec.add_outputs(out)
        chunk_recs = [json.loads(Path(p).read_text()) for p in part_audits]
        rec.counts = {"frames_processed": sum(r["counts"]["frames_processed"] for r in chunk_recs),
                      "detections_stored": len(table), "frames_with_detection": int(table["frame_index"].nunique())}
        rec.notes["chunk_seconds"] = [r["seconds"] for r in chunk_recs]
        rec.notes["providers"] = sorted({p for r in chunk_recs for p in r.get("notes", {}).get("providers", [])})


def select_cascade_frames(yunet: str, frame_table: str, out: str, audit: str, video_id: str,
                          threshold: float, uncertain_floor: float, neighbours: int) -> None:
    rule = CascadeRule(threshold, uncertain_floor, neighbours)
    with stage_record("select_cascade_frames", video_id, rule.__dict__, audit) as rec:
        rec.add_inputs(yunet, frame_table)
        n_frames = len(pd.read_csv(frame_table, sep="\t"))
        sel = select_uncertain_frames(read_detections(yunet), n_frames, rule)
        write_tsv(out, sel)
        rec.add_outputs(out)
        rec.counts = {"frames": n_frames, "frames_selected": len(sel),
                      **{f"reason_{k}": int(v) for k, v in sel["reason"].value_counts().items()}}


# ------------------------------------------------------------------------------------------------ merge
def merge(detections: dict[str, str], probe_json: str, frame_table: str, out: str, audit: str, video_id: str,
          params: dict[str, Any]) -> None:
    mp = MergeParams(mode=params["mode"], thresholds=params["thresholds"], fuse_iou=params["fuse_iou"],
                     match_iou=params["match_iou"], enlarge=params["enlarge"], shape=params["shape"])
    with stage_record("merge_regions", video_id, params, audit) as rec:
        rec.add_inputs(*detections.values(), probe_json, frame_table)
        info = pd.read_json(probe_json, typ="series")
        n_frames = len(pd.read_csv(frame_table, sep="\t"))
        tables = {name: read_detections(path) for name, path in detections.items()}
        regions = merge_detections(tables, mp, int(info["width"]), int(info["height"]),
                                   temporal_params(params), n_frames)
        write_regions(regions, out)
        rec.add_outputs(out)
        with_region = int(regions["frame_index"].nunique())
        rec.counts = {"blur_regions": len(regions), "frames_with_region": with_region,
                      "tracks": int(regions.loc[regions["track_id"] >= 0, "track_id"].nunique()),
                      "frames_without_region": n_frames - with_region,
                      **{f"regions_from_{k}": int(v) for k, v in regions["source"].value_counts().items()}}


# ------------------------------------------------------------------------------------------- blur/encode
def _blurred_frames(video: str, frames: pd.DataFrame, start: int, stop: int, by_frame: dict[int, pd.DataFrame],
                    bp: BlurParams) -> Iterator[Frame]:
    """Frames ``start`` to ``stop`` of a video, each with its regions blurred."""
    for frame in iter_video_frames(video, frames, start, stop):
        regs = by_frame.get(frame.index)
        yield frame if regs is None else Frame(frame.index, frame.pts, frame.time_base,
                                               blur_frame(frame.image, regs, bp))


def _regions_by_frame(regions: str) -> dict[int, pd.DataFrame]:
    return {int(k): g for k, g in pd.read_parquet(regions).groupby("frame_index")}


def blur(video: str, regions: str, frame_table: str, chunk: str, out: str, audit: str, video_id: str,
         params: dict[str, Any]) -> None:
    """Blur the regions of one chunk of a video's frames into a lossless FFV1 file, for ``encode`` to join
    with the other chunks (runs with one chunk per video blur while encoding instead: no such file)."""
    bp = BlurParams(method=params["method"], detail=params["detail"])
    with stage_record("blur_frames", video_id, {**params, "chunk": chunk}, audit) as rec:
        rec.add_inputs(video, regions, frame_table)
        frames = pd.read_csv(frame_table, sep="\t")
        part, chunks = parse_chunk_label(chunk)
        start, stop = chunk_ranges(len(frames), chunks)[part - 1]
        by_frame = _regions_by_frame(regions)
        writer: FFV1Writer | None = None
        n = 0
        try:
            for frame in _blurred_frames(video, frames, start, stop, by_frame, bp):
                if writer is None:
                    h, w = frame.image.shape[:2]
                    writer = FFV1Writer(out, w, h, Fraction(frame.time_base), nominal_rate(frames))
                writer.write(frame.image, frame.pts)
                n += 1
            if writer is None:  # an empty chunk (fewer frames than chunks): an empty file, skipped by encode
                private_file(out)
            else:
                writer.close()
        except BaseException:
            if writer is not None:
                writer.abort()
            raise
        rec.add_outputs(out)
        rec.counts = {"frames": n, "frames_blurred": sum(1 for i in by_frame if start <= i < stop)}


def blur_image(image_path: str, regions: str, probe_json: str, out: str, check_json: str, audit: str,
               video_id: str, params: dict[str, Any]) -> None:
    """Still images: blur, write without metadata, and check before the output gets its final name."""
    bp = BlurParams(method=params["method"], detail=params["detail"])
    with stage_record("blur_image", video_id, params, audit) as rec:
        rec.add_inputs(image_path, regions)
        image = read_image(image_path)
        reg = pd.read_parquet(regions)
        blurred = blur_frame(image, reg, bp) if len(reg) else image
        info = pd.read_json(probe_json, typ="series")
        part = Path(out).with_name(f".{Path(out).name}.tmp{Path(out).suffix}")
        try:
            write_image(blurred, part)
            report = check_image(part, int(info["width"]), int(info["height"]))
            if not report["passed"]:
                raise InputError(image_path, "output image failed its check: " + "; ".join(report["problems"]))
            part.replace(out)
        finally:
            part.unlink(missing_ok=True)
        write_json(check_json, report)
        rec.add_outputs(out, check_json)
        rec.counts = {"regions_blurred": len(reg)}


def encode(blurred: list[str], video: str, probe_json: str, frame_table: str, out: str, check_json: str, audit: str,
           video_id: str, params: dict[str, Any], threads: int, regions: str | None = None,
           blur_params: dict[str, Any] | None = None) -> None:
    """Encode, then check the encoded file with ffprobe before it gets its final name.

    ``blurred``: the lossless blurred chunks of a chunked run, joined and encoded. Empty: this job blurs
    ``regions`` itself and streams the frames straight into the encoder (nothing face-bearing on disk)."""
    from btb.output_check import check_output

    ep = EncodeParams(crf=params["crf"], preset=params["preset"], audio=params["audio"],
                      audio_bitrate=params["audio_bitrate"], threads=threads)
    streamed = not blurred
    if streamed and (regions is None or blur_params is None):
        raise ValueError("encode without blurred chunks needs the regions and blur parameters")
    record_params = {**params, "blur": blur_params} if streamed else params
    with stage_record("encode_video", video_id, record_params, audit) as rec:
        rec.add_inputs(*(blurred or [video, regions]), frame_table)
        info = pd.read_json(probe_json, typ="series")
        width, height = int(info["width"]), int(info["height"])
        expect_audio = ep.audio == "keep" and int(info["n_audio_streams"]) > 0
        frames = pd.read_csv(frame_table, sep="\t")
        report: dict[str, Any] = {}

        def accept(candidate: Path) -> None:
            report.update(check_output(candidate, frames, width, height, expect_audio))
            if not report["passed"]:
                raise InputError(video, "encoded output failed its check: " + "; ".join(report["problems"]))

        if streamed:
            assert regions is not None and blur_params is not None
            bp = BlurParams(method=blur_params["method"], detail=blur_params["detail"])
            by_frame = _regions_by_frame(regions)
            source = ((f.image, f.pts) for f in _blurred_frames(video, frames, 0, len(frames), by_frame, bp))
            encode_frames(source, Fraction(frames.at[0, "time_base"]), nominal_rate(frames), video, out, ep,
                          width, height, accept=accept)
            rec.counts = {"frames_blurred": len(by_frame)}
        else:
            blurred = [b for b in blurred if Path(b).stat().st_size > 0]  # empty chunks hold no frames
            if len(blurred) == 1:
                encode_video(blurred[0], video, out, ep, width, height, accept=accept)
            else:  # chunks blurred as separate jobs: joined packet for packet into one temporary lossless file
                joined = Path(blurred[0]).with_name("blurred.joined.nut")
                try:
                    concat_nut(blurred, joined)
                    encode_video(joined, video, out, ep, width, height, accept=accept)
                finally:
                    joined.unlink(missing_ok=True)
        write_json(check_json, report)
        rec.add_outputs(out, check_json)
        rec.counts = {**rec.counts, "output_frames": report["frames"]}


# ------------------------------------------------------------------------------------------ check/audit
def manifest(out: str, signing_key: str | None = None, **kwargs: Any) -> None:
    from btb.manifest import build_manifest, record_manifest

    record_manifest(out, build_manifest(**kwargs), signing_key)
    Path(out).with_name("failure.json").unlink(missing_ok=True)  # a failure of an earlier run is superseded


# ------------------------------------------------------------------------------------ verify / release
def verify_residual(output: str, regions: str, models_: dict[str, str], out_flags: str, out_verdict: str,
                    audit: str, video_id: str, detect_cfg: dict[str, Any], params: dict[str, Any],
                    threads: int, tables: dict[str, str] | None = None) -> None:
    """Detect again on the de-identified output; flag detections not inside a blur region. With
    ``params['every']`` > 1, on every n-th frame only, plus every frame's stored input detections (``tables``:
    detector -> detection table) checked against the blur (``btb.residual``)."""
    from btb.residual import ResidualParams, flags_in_frame, flags_table, frame_mask, input_flags_in_frame, verdict

    rp = ResidualParams(thresholds=dict(params["thresholds"]), min_covered=float(params["min_covered"]),
                        every=int(params.get("every", 1)))
    if rp.every > 1 and not tables:
        raise ValueError("verify.every > 1 needs the stored detection tables")
    with stage_record("verify_residual", video_id, params, audit) as rec:
        rec.add_inputs(output, regions, *models_.values())
        stored: dict[str, dict[int, pd.DataFrame]] = {}
        if rp.every > 1:
            rec.add_inputs(*tables.values())
            for name, path in tables.items():
                t = read_detections(path)
                stored[name] = {int(k): g for k, g in t.groupby("frame_index")}
        detectors = {name: make_detector(name, path, detect_cfg[name], threads, detect_cfg.get("device", "cpu"))
                     for name, path in models_.items()}
        reg = pd.read_parquet(regions)
        by_frame = {int(k): g for k, g in reg.groupby("frame_index")}
        empty = reg.iloc[0:0]
        frames = iter([(0, read_image(output))]) if is_image(output) else (
            (f.index, f.image) for f in iter_normalised(output))
        rows, n, detected = [], 0, 0
        for index, image in frames:
            frame_regions = by_frame.get(index, empty)
            mask = None
            if rp.detects(index):
                mask = frame_mask(image.shape, frame_regions)
                found = {name: d.detect(image) for name, d in detectors.items()}
                rows += flags_in_frame(index, image.shape, frame_regions, found, rp, mask)
                detected += 1
            if stored:  # the mask is computed once per frame, and only where it is needed
                rows += input_flags_in_frame(index, image.shape, frame_regions,
                                             {k: v[index] for k, v in stored.items() if index in v}, rp, mask)
            n += 1
        flags = flags_table(rows)
        write_tsv(out_flags, flags, float_format="%.2f")
        result = verdict(flags, n, detected, rp.every)
        write_json(out_verdict, {"video_id": video_id, **result, "output": output,
                                 "output_sha256": sha256_file(output), "params": params})
        rec.add_outputs(out_flags, out_verdict)
        rec.counts = {"frames_checked": n, "frames_detected": detected, "residual_flags": len(flags),
                      "frames_flagged": result["frames_flagged"]}
        rec.notes["verdict"] = result["verdict"]


def release(deliverable: str, verdict_json: str, out: str, release_dir: str, video_id: str) -> None:
    """Fail closed: the deliverable enters the release area only with a passing verification or a recorded
    approval of this very file (by sha256); otherwise it stays in the review area."""
    from btb.review import release_state

    write_json(out, release_state(video_id, deliverable, verdict_json, release_dir))


def qa_report(deliverable: str, yunet: str, retinaface: str, regions: str, flags: str, verdict_json: str,
              frame_table: str, out: str, video_id: str, thresholds: dict[str, float],
              centerface: str | None = None) -> None:
    from btb.qa import MAX_THUMBS, write_video_report

    fl = pd.read_csv(flags, sep="\t")
    wanted = set(fl.sort_values("score", ascending=False).drop_duplicates("frame_index")
                 .head(MAX_THUMBS)["frame_index"].astype(int))
    if is_image(deliverable):
        frames = {0: read_image(deliverable)} if wanted else {}
    else:
        frames = {f.index: f.image for f in iter_normalised(deliverable) if f.index in wanted}
    write_video_report(out, video_id, len(pd.read_csv(frame_table, sep="\t")),
                       {"yunet": read_detections(yunet), "retinaface": read_detections(retinaface),
                        **({"centerface": read_detections(centerface)} if centerface else {})},
                       thresholds, pd.read_parquet(regions), fl,
                       pd.read_json(verdict_json, typ="series").to_dict(), frames)
