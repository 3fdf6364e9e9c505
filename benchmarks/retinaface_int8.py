"""RetinaFace-MobileNetV2 quantized to INT8 (onnxruntime static QDQ, per-channel Conv weights) against FP32.

A lever of the performance issue, measured and not adopted (numbers in the README, "Evaluation, measured
accuracy and speed"). Calibration: every 25th frame of the first 250 of four clips in
``../shared/eval/unlabeled`` (scaled to 640 px wide). Prints the median ms per 640x360 frame of both models
(2 threads, both passes, alternating) and, from the detection tables ``btb evaluate`` cached in
``results/eval/<set>/``, recall@0.8 (all faces / faces >= 20 px) and blur-area ratio of RetinaFace alone,
union and cascade on the shared WIDER sets with the FP32 and the INT8 RetinaFace table. The INT8 model and its
tables go to the cache folder (``$BTB_BENCH_CACHE``, else ``~/.cache/btb-benchmarks``), never the repository.

    .venv/bin/python benchmarks/retinaface_int8.py
"""

from __future__ import annotations

import hashlib
import json
import time
from pathlib import Path

import cv2
import numpy as np
import onnxruntime as ort
from deface_tool import cache_dir
from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

from btb.config import load_config
from btb.detect.factory import make_detector
from btb.evaluation import wider
from btb.evaluation.methods import LabeledImages, evaluate_images
from btb.regions.tables import read_detections
from btb.stages.evaluate import detect_image_set
from btb.video.frames import iter_normalised

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
FP32 = REPO / "resources" / "models" / "retinaface_mnv2_floor0.05.onnx"
CLIPS = ["short_hamilton_clip.mp4", "pres_debate.avi", "webcam_hand_occlusion.mp4", "facenet_multiface_1080p.mp4"]
SETS = {"wider_train_family": ("WIDER_train/images", "wider_face_train_bbx_gt.txt"),
        "wider_val": ("WIDER_val/images", "wider_face_val_bbx_gt.txt")}
CFG = {"backbone": "mobilenetv2", "score_floor": 0.05, "downscaled_long_side": 480}


def model_input(image: np.ndarray) -> np.ndarray:
    """The graph's input for one BGR image, as ``RetinaFaceDetector`` builds it (RGB, padded to 32)."""
    h, w = image.shape[:2]
    x = np.zeros((1, -(-h // 32) * 32, -(-w // 32) * 32, 3), np.float32)
    x[0, :h, :w] = image[:, :, ::-1]
    return x


def quantize(out: Path, frames: list[np.ndarray]) -> None:
    name = ort.InferenceSession(str(FP32), providers=["CPUExecutionProvider"]).get_inputs()[0].name
    feeds = iter([{name: model_input(cv2.resize(f, (640, round(640 * f.shape[0] / f.shape[1]))))} for f in frames])

    class Reader(CalibrationDataReader):
        def get_next(self) -> dict | None:
            return next(feeds, None)

    quantize_static(str(FP32), str(out), Reader(), quant_format=QuantFormat.QDQ, per_channel=True,
                    activation_type=QuantType.QUInt8, weight_type=QuantType.QInt8, op_types_to_quantize=["Conv"])
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    out.with_name(out.name + ".sha256").write_text(f"{digest}  {out.name}\n")  # the detector checks the sidecar


def main() -> None:
    cache = cache_dir()
    int8 = cache / "retinaface_mnv2_floor0.05.int8.onnx"
    frames = []
    for clip in CLIPS:
        for i, f in enumerate(iter_normalised(SHARED / "eval" / "unlabeled" / clip)):
            if i % 25 == 0:
                frames.append(f.image)
            if i >= 250:
                break
    if not int8.exists():
        quantize(int8, frames)
    dets = {k: make_detector("retinaface", str(p), CFG, 2, "cpu") for k, p in (("fp32", FP32), ("int8", int8))}
    img = cv2.resize(frames[0], (640, 360))
    times: dict[str, list[float]] = {k: [] for k in dets}
    for d in dets.values():
        for _ in range(5):
            d.detect(img)
    for _ in range(40):
        for k, d in dets.items():
            t = time.perf_counter()
            d.detect(img)
            times[k].append(time.perf_counter() - t)
    for k, v in times.items():
        print(f"{k}: {1000 * float(np.median(v)):.1f} ms per 640x360 frame (median of 40, 2 threads, both passes)")
    merge = load_config(REPO / "config" / "config.yaml")["merge"]
    for name, (images, gt_file) in SETS.items():
        cached = REPO / "results" / "eval" / name
        table, meta = cache / f"rf_int8_{name}.parquet", cache / f"rf_int8_{name}.json"
        if not table.exists():
            detect_image_set(name, str(SHARED / "eval" / "wider" / images), str(SHARED / "eval" / "wider" / gt_file),
                             "retinaface", str(int8), CFG, str(table), str(meta), threads=2)
        gt = wider.read_wider_gt(SHARED / "eval" / "wider" / gt_file)
        m32 = json.loads((cached / "retinaface.json").read_text())
        sizes = {k: (int(v[0]), int(v[1])) for k, v in m32["sizes"].items()}
        for label, rf, meta_file in (("fp32", cached / "retinaface.parquet", cached / "retinaface.json"),
                                     ("int8", table, meta)):
            tables = {"yunet": read_detections(cached / "yunet.parquet"), "retinaface": read_detections(rf)}
            res = evaluate_images(LabeledImages(name, m32["images"], gt, tables, sizes, {}, None), merge)["methods"]
            secs = json.loads(Path(meta_file).read_text())["seconds"]
            figs = {m: (round(res[m]["all"]["recall_at_0_8"], 3), round(res[m]["min_side"]["recall_at_0_8"], 3),
                        round(res[m]["all"]["blur_area_ratio"], 3)) for m in ("retinaface", "union", "cascade")}
            print(f"{name} {label}: RetinaFace {secs:.1f} s; (recall@0.8, >= 20 px, blur ratio) {figs}")


if __name__ == "__main__":
    main()
