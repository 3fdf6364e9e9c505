"""The body-landmark head locator (BlazePose from the pinned mediapipe wheel, converted at staging) and how
verification uses it to explain face-detector flags."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

from btb.detect.pose import ANCHORS, FACE_FEATURES, HEAD, Person, roi_from_keypoints, roi_transform
from btb.evaluation.metrics import coverage
from btb.release.residual import explain_flags


def test_anchors_follow_the_detector_layout():
    assert ANCHORS.shape == (2254, 2)
    assert np.allclose(ANCHORS[0], [0.5 / 28, 0.5 / 28]) and np.allclose(ANCHORS[1], ANCHORS[0])
    assert np.allclose(ANCHORS[-1], [6.5 / 7, 6.5 / 7])


def test_region_is_upright_and_centred_on_the_hips():
    """A person standing: hips at (300, 400), the body circle point straight above at (300, 200). The crop has
    the hips at its centre and the head towards its top."""
    centre, side, rotation = roi_from_keypoints(np.array([300.0, 400.0]), np.array([300.0, 200.0]))
    assert side == pytest.approx(2 * 200 * 1.25) and rotation == pytest.approx(0.0)
    m = roi_transform(centre, side, rotation)
    head = m @ np.array([300.0, 180.0, 1.0])
    assert np.allclose(m @ np.array([300.0, 400.0, 1.0]), [128, 128])
    assert head[1] < 40 and abs(head[0] - 128) < 1e-6
    # lying down (head to the right): the crop turns it upright
    centre, side, rotation = roi_from_keypoints(np.array([300.0, 400.0]), np.array([500.0, 400.0]))
    assert abs(rotation) == pytest.approx(math.pi / 2)
    head = roi_transform(centre, side, rotation) @ np.array([520.0, 400.0, 1.0])
    assert head[1] < 40 and abs(head[0] - 128) < 1e-6


def test_real_model_finds_the_photographed_head(models_dir):
    """The staged model (converted from the wheel, checked against TFLite at staging) on a real photograph:
    one person, the head box over the face, the hands (not in the picture) not seen; an empty frame: nobody."""
    from btb.detect.factory import make_detector
    from btb.video.demo import SPRITE_FACE, _face_sprite

    audit = json.loads((models_dir / "stage_pose.audit.json").read_text())
    conv = audit["notes"]["conversion"]
    assert conv["detector"]["graph_sha256_pinned"] and conv["landmarks"]["graph_sha256_pinned"]
    assert conv["detector"]["max_difference"] < 1e-2 and conv["landmarks"]["max_difference"] < 1e-2
    # the landmark model keeps only the landmarks and the person score (mask, heatmaps, world landmarks pruned)
    assert conv["detector"]["outputs_pruned"] == [] and len(conv["landmarks"]["outputs_pruned"]) == 3
    import onnxruntime as ort

    from btb.detect.pose import read_blazepose

    lmk = ort.InferenceSession(read_blazepose(models_dir / "blazepose_full.zip")["landmarks"],
                               providers=["CPUExecutionProvider"])
    assert sorted(tuple(o.shape) for o in lmk.get_outputs()) == [(1, 1), (1, 195)]
    from btb.config import defaults

    detector = make_detector("pose", str(models_dir / "blazepose_full.zip"), defaults()["detect"]["pose"], 1, "cpu")
    img = np.full((480, 640, 3), 120, np.uint8)
    sprite = _face_sprite()
    img[100:100 + sprite.shape[0], 200:200 + sprite.shape[1]] = sprite
    found = detector.detect(img)
    assert len(found) == 1 and found.scores[0] >= 0.5
    fx, fy, fw, fh = SPRITE_FACE
    mask = np.zeros(img.shape[:2], bool)
    x, y, w, h = found.boxes[0].round().astype(int)
    mask[max(0, y):y + h, max(0, x):x + w] = True
    assert coverage((200 + fx, 100 + fy, fw, fh), mask) >= 0.9, "the head box covers the face"
    person = detector.people[0]
    assert (person.landmarks[[15, 16], 2] < 0.5).all(), "no hand in the picture"
    assert len(detector.detect(np.full((480, 640, 3), 120, np.uint8))) == 0


def person(head_centre, hand_centre, hand_seen=True):
    """A Person with its head landmarks around ``head_centre`` and its right hand at ``hand_centre``."""
    lm = np.zeros((33, 4))
    lm[:, 2:] = 0.9
    hx, hy = head_centre
    for i in HEAD:
        lm[i, :2] = (hx + (i % 3 - 1) * 6, hy + (i % 2) * 6)
    lm[11, :2], lm[12, :2] = (hx - 40, hy + 60), (hx + 40, hy + 60)
    lm[[15, 17, 19, 21], :2] = (hx - 80, hy + 150)  # left hand, far away
    lm[[16, 18, 20, 22], :2] = hand_centre
    lm[[16, 18, 20, 22], 2] = 0.9 if hand_seen else 0.1
    head = np.array([hx - 30, hy - 30, 60, 60])
    hands = np.array([[hx - 100, hy + 130, 40, 40], [hand_centre[0] - 20, hand_centre[1] - 20, 40, 40]])
    return Person(0.9, 0.9, lm, head, hands)


def flag_row(x, y, w=30, h=30, detector="yunet", feat=0.0):
    return (5, detector, 0.6, float(x), float(y), float(w), float(h), 0.0, feat)


def test_flags_on_hands_and_on_blurred_heads_are_explained():
    mask = np.zeros((400, 600), bool)
    people = [person((100, 100), (300, 300)), person((450, 100), (450, 300), hand_seen=False)]
    mask[80:130, 420:480] = True  # the second person's face is blurred
    rows = [flag_row(285, 285),  # on the first person's (seen) hand
            flag_row(435, 285),  # on the second person's hand, which the model does not see
            flag_row(85, 85),  # on the first person's unblurred face
            flag_row(440, 80, 40, 30, feat=1.0),  # the second head found again: its features and the flag's blurred
            flag_row(440, 80, 40, 30, feat=0.2),  # a second face beside it, its own landmarks outside the blur
            flag_row(285, 285, detector="pose")]  # a head locator flag is never explained away
    got = [r[9] for r in explain_flags(rows, people, mask)]
    assert got == ["hand", "", "on_head", "features_blurred", "on_head", ""]
    assert all(r[9] == "" for r in explain_flags(rows, [], mask)), "no people: nothing is explained"
    # a face right beside a hand (a parent touching a child's cheek): a head landmark in the box keeps it
    touching = person((300, 270), (300, 300))
    assert explain_flags([flag_row(285, 255, 30, 50)], [touching], mask)[0][9] == "on_head"
    # a box much larger than the hand in it (a face cradled by a hand the locator sees, the face not located)
    assert explain_flags([flag_row(260, 260, 90, 90)], people, mask)[0][9] == ""
    assert FACE_FEATURES == [0, 1, 2, 3, 4, 5, 6, 9, 10]


def test_a_flag_on_a_located_head_is_always_for_a_reviewer():
    """``on_head`` outranks every dismissal: too small, the detector's own landmarks under the blur, weak."""
    from btb.release.items import ItemParams, review_items
    from btb.release.residual import flags_table

    rows = [(0, "yunet", 0.45, 10.0, 10.0, 8.0, 8.0, 0.0, 1.0, "on_head")]  # tiny, blurred landmarks, weak
    rows += [(1, "yunet", 0.45, 10.0, 10.0, 20.0, 20.0, 0.0, 0.0, "")]
    params = ItemParams(1.0, 0.1, 1.0, 10, True, weak_max_frames=3, confident={"yunet": 0.5})
    items, flags = review_items(flags_table(rows), {0: 0.0, 1: 0.1}, params)
    assert items["status"].tolist() == ["open"] and flags["reason"].tolist() == ["", ""]


def test_verification_checks_input_heads_and_explains_flags_from_the_input_frame():
    """The head locator's heads found on the input are checked on every frame against the output's blur; a
    face-detector flag is explained from the people the locator finds on the input frame."""
    import pandas as pd

    from btb.detect.base import RawDetections
    from btb.release.residual import ResidualParams, verify_frames

    class Hands:  # a face detector that finds a "face" on a hand on every output frame but the last
        def detect(self, image):
            if image[0, 0, 0] == 3:
                return RawDetections.empty()
            return RawDetections(np.array([[285.0, 285.0, 30.0, 30.0]]), np.array([0.6]), np.zeros((1, 10)),
                                 np.ones(1))

    class Locator:  # the head locator on an input frame: one person, hand at (300, 300)
        seen: list[int] = []

        def detect_people(self, image):
            Locator.seen.append(int(image[0, 0, 1]))  # which input frame it was given
            return [person((100, 100), (300, 300))]

    regions = pd.DataFrame({"frame_index": [0, 1], "region_id": [0, 1], "x": [70, 70], "y": [70, 70],
                            "w": [60, 60], "h": [60, 60], "shape": ["box", "box"], "source": ["yunet", "yunet"],
                            "score": [0.9, 0.9], "track_id": [0, 0]})
    head = {"detector": "pose", "pass_scale": 1.0, "score": 0.9, "w": 60.0, "h": 60.0,
            **{f"lm{i}_{a}": 100.0 for i in range(5) for a in "xy"}}
    heads = {0: pd.DataFrame([{**head, "frame_index": 0, "x": 70.0, "y": 70.0}]),  # blurred: no flag
             2: pd.DataFrame([{**head, "frame_index": 2, "x": 70.0, "y": 70.0}])}  # frame 2 has no region
    def frame(i, channel):  # output frames carry their index in channel 0, input frames in channel 1
        img = np.zeros((400, 600, 3), np.uint8)
        img[0, 0, channel] = i
        return img

    outputs = [(i, frame(i, 0)) for i in range(4)]
    inputs = [(i, frame(i, 1)) for i in range(4)]
    params = ResidualParams(thresholds={"yunet": 0.4, "pose": 0.3}, min_covered=0.5, every=1)
    flags, n, detected = verify_frames(iter(outputs), regions, {"yunet": Hands()}, params, heads=heads,
                                       locator=Locator(), inputs=iter(inputs))
    assert n == detected == 4
    assert Locator.seen == [0, 1, 2], "the locator runs on the input frame of each frame with a face flag only"
    hands = flags[flags["detector"] == "yunet"]
    assert hands["frame_index"].tolist() == [0, 1, 2] and (hands["explained"] == "hand").all()
    pose = flags[flags["detector"] == "pose"]
    assert pose["frame_index"].tolist() == [2], "the unblurred input head on frame 2 is a flag"
    with pytest.raises(ValueError, match="input frame 2"):  # an input that ends early is an error, not a skip
        verify_frames(iter(outputs), regions, {"yunet": Hands()}, params, locator=Locator(), inputs=iter(inputs[:2]))


def test_stored_input_detections_are_checked_and_explained_like_redetected_ones():
    """A face detector left out of verify.redetect is not run again: its detections stored for the input are
    checked against the output's blur on every frame, and its flags are explained by the locator and judged
    weak by its own merge threshold, as the same detector's flags on the output would be."""
    import pandas as pd

    from btb.detect.base import RawDetections
    from btb.release.items import ItemParams, review_items
    from btb.release.residual import ResidualParams, flags_table, verify_frames

    class Nothing:  # the redetect detector: finds nothing on the output
        def detect(self, image):
            return RawDetections.empty()

    class Locator:  # one person, hand at (300, 300)
        def detect_people(self, image):
            return [person((100, 100), (300, 300))]

    row = {"detector": "retinaface", "pass_scale": 1.0, **{f"lm{i}_{a}": 0.0 for i in range(5) for a in "xy"}}
    stored = {"retinaface": {
        0: pd.DataFrame([{**row, "frame_index": 0, "score": 0.7, "x": 285.0, "y": 285.0, "w": 30.0, "h": 30.0}]),
        1: pd.DataFrame([{**row, "frame_index": 1, "score": 0.1, "x": 500.0, "y": 20.0, "w": 40.0, "h": 40.0}]),
        2: pd.DataFrame([{**row, "frame_index": 2, "score": 0.3, "x": 500.0, "y": 300.0, "w": 40.0, "h": 40.0}])}}
    regions = pd.DataFrame(columns=["frame_index", "region_id", "x", "y", "w", "h", "shape", "source", "score",
                                    "track_id"])
    frames = [(i, np.zeros((400, 600, 3), np.uint8)) for i in range(3)]
    params = ResidualParams(thresholds={"yunet": 0.4, "retinaface": 0.15}, min_covered=0.5, every=1)
    flags, n, detected = verify_frames(iter(frames), regions, {"yunet": Nothing()}, params, stored,
                                       locator=Locator(), inputs=iter(frames))
    assert n == detected == 3
    assert flags["detector"].tolist() == ["retinaface:input", "retinaface:input"], "frame 1 is below threshold"
    assert flags["explained"].tolist() == ["hand", ""]
    items, flags = review_items(flags_table(flags.itertuples(index=False)), {0: 0.0, 1: 0.1, 2: 0.2},
                                ItemParams(1.0, 0.1, 1.0, 10, True, weak_max_frames=3,
                                           confident={"yunet": 0.6, "retinaface": 0.5}))
    assert items["status"].tolist() == ["dismissed", "dismissed"]
    assert sorted(items["reason"]) == ["hand", "weak"], "a stored flag below its merge threshold, on no head"


def test_head_locator_every_nth_frame_and_the_settings_it_needs(models_dir, face_clip, tmp_path):
    """detect.pose.every: 2 runs the locator on frames 0, 2, 4, ... of the real clip (the audit record says so);
    a stride that temporal coverage cannot bridge is refused as an unsafe setting."""
    from btb.config import defaults, validate_config
    from btb.errors import InputError
    from btb.regions.tables import read_detections
    from btb.stages.detect import detect_chunk
    from btb.stages.frames import index_video_frames

    index_video_frames(video=str(face_clip), frame_table=str(tmp_path / "frames.tsv"),
                       audit=str(tmp_path / "index.json"), video_id="v")
    options = {**defaults()["detect"]["pose"], "every": 2}
    detect_chunk(detector="pose", video=str(face_clip), frame_table=str(tmp_path / "frames.tsv"), chunk="1of1",
                 model=str(models_dir / "blazepose_full.zip"), out=str(tmp_path / "pose.parquet"),
                 audit=str(tmp_path / "pose.json"), video_id="v", options=options, threads=1, device="cpu")
    rec = json.loads((tmp_path / "pose.json").read_text())
    assert rec["counts"]["frames_processed"] == 12  # 24 frames
    assert rec["params"]["frames"] == "all, one in 2"
    found = read_detections(tmp_path / "pose.parquet")
    assert len(found) and (found["frame_index"] % 2 == 0).all() and found["frame_index"].nunique() >= 10

    cfg = defaults()
    cfg["detect"]["pose"]["every"] = 2
    validate_config(cfg)  # bridged by the default temporal coverage
    cfg["detect"]["pose"]["every"] = 8
    with pytest.raises(InputError, match="max_gap of at least 7"):
        validate_config(cfg)
    cfg["detect"]["pose"]["every"], cfg["merge"]["temporal"]["enabled"] = 2, False
    with pytest.raises(InputError, match="detect.pose.every is 2"):
        validate_config(cfg)


def two_branch_model(path):
    """An ONNX model with a used output (Relu of the input, (1, 4)) and an unused branch (sum of exp, (1, 1))."""
    import onnx
    from onnx import TensorProto, helper

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])
    outs = [helper.make_tensor_value_info("used", TensorProto.FLOAT, [1, 4]),
            helper.make_tensor_value_info("extra", TensorProto.FLOAT, [1, 1])]
    nodes = [helper.make_node("Relu", ["x"], ["used"]), helper.make_node("Exp", ["x"], ["e"]),
             helper.make_node("ReduceSum", ["e"], ["extra"], keepdims=1)]
    model = helper.make_model(helper.make_graph(nodes, "g", [x], outs), opset_imports=[helper.make_opsetid("", 13)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return np.array([[-1.0, 0.5, 2.0, -3.0]], np.float32)


def test_pruning_keeps_the_used_outputs_exactly(tmp_path):
    """Pruning drops the unused output and the operators only it needs; the kept output is unchanged; asking
    for a shape the graph lacks is an error."""
    import onnx
    import onnxruntime as ort

    from btb.errors import ModelError
    from btb.models.blazepose import _prune_outputs

    path = tmp_path / "m.onnx"
    image = two_branch_model(path)
    assert _prune_outputs(path, ((1, 4),), image) == ["extra"]
    pruned = onnx.load(str(path))
    assert [n.op_type for n in pruned.graph.node] == ["Relu"]
    assert pruned.ir_version == 8 and [(o.domain, o.version) for o in pruned.opset_import] == [("", 13)]
    out = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"x": image})
    assert len(out) == 1 and np.array_equal(out[0], np.maximum(image, 0))
    with pytest.raises(ModelError, match="expected outputs"):
        _prune_outputs(path, ((1, 195), (1, 1)), image)


def test_pruning_that_changes_an_output_is_refused(tmp_path, monkeypatch):
    """Should extraction ever compute something else (here: Relu swapped for Abs), the model is not written."""
    import onnx

    from btb.errors import ModelError
    from btb.models.blazepose import _prune_outputs

    path = tmp_path / "m.onnx"
    image = two_branch_model(path)
    before = path.read_bytes()
    extract = onnx.utils.Extractor.extract_model

    def altered(self, inputs, outputs):  # type: ignore[no-untyped-def]
        out = extract(self, inputs, outputs)
        for node in out.graph.node:
            if node.op_type == "Relu":
                node.op_type = "Abs"
        return out

    monkeypatch.setattr(onnx.utils.Extractor, "extract_model", altered)
    with pytest.raises(ModelError, match="pruning changed output used"):
        _prune_outputs(path, ((1, 4),), image)
    assert path.read_bytes() == before
