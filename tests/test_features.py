"""Tabular features: head pose from landmarks, the per-track and per-frame tables, and their place in a run."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pandas as pd
import pytest

from btb.features.headpose import pose_angles, project
from btb.features.table import FACE_COLUMNS, FRAME_COLUMNS, TRACK_COLUMNS, face_rows, frame_rows, track_rows
from btb.regions.tables import LANDMARK_COLUMNS, REGION_COLUMNS, detections_frame

POSES = list(itertools.product([-60, -20, 0, 35], [-30, 0, 25], [-35, 0, 20]))


@pytest.mark.parametrize(("yaw", "pitch", "roll"), POSES)
def test_pose_of_the_generic_face_is_recovered(yaw, pitch, roll):
    lm = project(yaw, pitch, roll, centre=(300.0, 200.0), size_px=50.0, width=640, height=360)
    assert np.allclose(pose_angles(lm, 640, 360), (yaw, pitch, roll), atol=1e-3)


def test_angle_conventions_match_the_picture():
    eyes_mid = lambda lm: lm[:2].mean(axis=0)  # noqa: E731
    turned = project(30, 0, 0, (320.0, 180.0), 60.0, 640, 360)
    assert turned[2, 0] > eyes_mid(turned)[0], "yaw > 0: the nose is right of the eyes (face turned to image right)"
    up = project(0, 20, 0, (320.0, 180.0), 60.0, 640, 360)
    assert up[2, 1] < (up[:2, 1].mean() + up[3:, 1].mean()) / 2, "pitch > 0: chin up, the nose rides up"
    tilted = project(0, 0, 20, (320.0, 180.0), 60.0, 640, 360)
    assert tilted[1, 1] > tilted[0, 1], "roll > 0: clockwise in the image (the image-right eye lower)"
    assert all(math.isnan(a) for a in pose_angles(np.full((5, 2), 10.0), 640, 360)), "collapsed landmarks"
    assert all(math.isnan(a) for a in pose_angles(np.full((5, 2), np.nan), 640, 360))


def test_roll_of_a_real_face_photograph_from_retinaface_landmarks(models_dir):
    """The demo's face photograph turned in the image plane by up to 35 degrees either way: RetinaFace's
    landmarks give roll within 5 degrees (the change from the unturned picture; benchmarks/headpose_accuracy.py
    measures the whole sweep and docs/features.md reports it)."""
    from btb.config import defaults
    from btb.detect.factory import make_detector
    from btb.detect.registry import DETECTORS
    from btb.evaluation.headpose import measure

    options = defaults()["detect"]["retinaface"]
    det = make_detector("retinaface", DETECTORS["retinaface"].model_path(str(models_dir), options), options, 1, "cpu")

    def landmarks_of(img: np.ndarray) -> np.ndarray | None:
        found = det.detect(img)
        return found.landmarks[int(np.argmax(found.scores))].reshape(5, 2) if len(found) else None

    rows = measure(landmarks_of, axes=("roll",))
    assert len(rows) == 15 and rows["error_deg"].notna().all()
    assert rows["error_deg"].abs().max() < 5, rows


def test_mesh_render_puts_each_point_where_the_camera_sees_it():
    """A textured height field (a pyramid standing out toward the camera, each quarter coloured) turned by a
    known rotation lands where the pinhole projection puts its points; faces turned away are not drawn."""
    from btb.evaluation.facemesh import render, textured_mesh
    from btb.features.headpose import camera_matrix, rotation

    tex = np.zeros((101, 101, 3), np.uint8)
    tex[:50, :50], tex[:50, 51:], tex[51:, :50], tex[51:, 51:] = (255, 0, 0), (0, 255, 0), (0, 0, 255), (0, 255, 255)
    grid = [(x, y, 0.0) for x in (0, 50, 100) for y in (0, 50, 100) if (x, y) != (50, 50)]
    pts = np.array([*grid, (50.0, 50.0, -40.0)])  # the apex 40 units toward the camera
    mesh = textured_mesh(tex, pts)
    k, size = camera_matrix(400, 300), (400, 300)
    for yaw in (0.0, 30.0):
        img = render(mesh, rotation(yaw, 0.0, 0.0), k, size, 1.0, 400.0)
        centre = np.array([*pts[:, :2].mean(axis=0), 0.0])
        for px, colour in (((25, 25), (255, 0, 0)), ((75, 75), (0, 255, 255))):
            # the texture pixel's point on the pyramid's face (z interpolated toward the apex)
            z = -40.0 * (1 - max(abs(px[0] - 50), abs(px[1] - 50)) / 50)
            cam = rotation(yaw, 0.0, 0.0) @ (np.array([px[0], px[1], z]) - centre) + [0, 0, 400.0]
            u, v = (cam[:2] / cam[2] * k[0, 0] + k[:2, 2]).round().astype(int)
            assert tuple(img[v, u]) == colour, (yaw, px, img[v, u])
    # turned past edge-on the near side's faces look away: nothing of the texture is drawn
    behind = render(mesh, rotation(180.0, 0.0, 0.0), k, size, 1.0, 400.0)
    assert not ((behind == (255, 0, 0)).all(axis=2)).any()


def test_yaw_of_a_real_face_with_depth_from_retinaface_landmarks(models_dir, tmp_path):
    """The demo's face on its own 3-D mesh (MediaPipe Face Mesh, from the pinned wheel) turned through +-45
    degrees of yaw: RetinaFace's landmarks read the turn within 15 degrees everywhere and within 5 on average up
    to 15; the same photograph turned as a flat picture reads far less (the reason the mesh exists). The whole
    sweep is benchmarks/headpose_accuracy.py's."""
    from btb.config import defaults
    from btb.detect.factory import make_detector
    from btb.detect.registry import DETECTORS
    from btb.evaluation.headpose import measure, mesh_pictures
    from btb.models.staging import mirror_from_env, stage_model

    options = defaults()["detect"]["retinaface"]
    det = make_detector("retinaface", DETECTORS["retinaface"].model_path(str(models_dir), options), options, 1, "cpu")

    def landmarks_of(img: np.ndarray) -> np.ndarray | None:
        found = det.detect(img)
        return found.landmarks[int(np.argmax(found.scores))].reshape(5, 2) if len(found) else None

    facemesh = stage_model("facemesh_landmark", tmp_path / "face_landmark.tflite", mirror_from_env(None))
    rows = measure(landmarks_of, axes=("yaw",), picture=mesh_pictures(facemesh))
    assert len(rows) == 19 and rows["error_deg"].notna().all()
    assert rows["error_deg"].abs().max() < 15, rows
    assert rows.loc[rows["true_deg"].abs() <= 15, "error_deg"].abs().mean() < 5, rows
    flat = measure(landmarks_of, axes=("yaw",))
    assert flat["error_deg"].abs().mean() > 2 * rows["error_deg"].abs().mean()


def _regions(rows: list[tuple]) -> pd.DataFrame:
    df = pd.DataFrame(rows, columns=["frame_index", "x", "y", "w", "h", "source", "score", "track_id"])
    df.insert(1, "region_id", np.arange(len(df)))
    df["shape"] = "ellipse"
    return df[list(REGION_COLUMNS)].astype(REGION_COLUMNS)


def test_face_rows_take_detections_and_interpolate_filled_frames():
    lm = project(10, 0, 5, (120.0, 100.0), 30.0, 320, 240).reshape(1, 10)
    dets = {
        "yunet": pd.concat([detections_frame(f, "yunet", np.array([[100.0 + 10 * f, 80, 40, 40]]), np.array([0.9]),
                                             lm + [10 * f, 0] * 5) for f in (0, 3)]),
        "pose": detections_frame(5, "pose", np.array([[200.0, 60, 50, 50]]), np.array([0.7]), np.full((1, 10), 220.0)),
    }
    # regions are the detections enlarged; frames 1-2 bridged by temporal coverage; frame 5 a head-locator head
    regions = _regions([(0, 95, 75, 50, 50, "yunet", 0.9, 0), (1, 105, 75, 50, 50, "temporal_fill", 0, 0),
                        (2, 115, 75, 50, 50, "temporal_fill", 0, 0), (3, 125, 75, 50, 50, "yunet", 0.9, 0),
                        (5, 195, 55, 60, 60, "pose", 0.7, 1)])
    times = np.arange(6) / 10
    faces = face_rows(regions, dets, times, 320, 240)
    assert list(faces.columns) == list(FACE_COLUMNS)
    assert list(faces["status"]) == ["detected", "filled", "filled", "detected", "head"]
    assert faces.loc[0, ["x", "y", "w", "h"]].tolist() == [100, 80, 40, 40], "the detection's box, not the region's"
    assert faces.loc[1, "x"] == pytest.approx(110) and faces.loc[2, "x"] == pytest.approx(120), "interpolated"
    assert faces.loc[[1, 2], LANDMARK_COLUMNS].isna().all().all(), "filled rows carry no landmarks"
    assert faces.loc[0, "yaw_deg"] == pytest.approx(10, abs=0.01)
    assert faces.loc[0, "roll_deg"] == pytest.approx(5, abs=0.01)
    assert math.isnan(faces.loc[4, "yaw_deg"]), "no pose from the head locator's face points"
    assert faces.loc[1, "vx_px_s"] == pytest.approx(100) and math.isnan(faces.loc[0, "vx_px_s"])
    assert faces.loc[0, "x_norm"] == pytest.approx(100 / 320) and faces.loc[0, "h_norm"] == pytest.approx(40 / 240)

    tracks = track_rows(faces, 0.1)
    assert list(tracks.columns) == list(TRACK_COLUMNS)
    t0 = tracks[tracks["track_id"] == 0].iloc[0]
    assert (t0["first_frame"], t0["last_frame"], t0["frames_detected"], t0["frames_filled"]) == (0, 3, 2, 2)
    assert t0["seconds_on_screen"] == pytest.approx(0.4) and t0["sources"] == "temporal_fill,yunet"
    frames = frame_rows(faces, times)
    assert list(frames.columns) == list(FRAME_COLUMNS)
    assert frames["faces"].tolist() == [1, 1, 1, 1, 0, 1] and frames["faces_detected"].tolist() == [1, 0, 0, 1, 0, 0]


def test_no_pixel_or_identity_columns():
    """The dictionary's promise: positions, scores, angles and motion; nothing that holds image content."""
    columns = {*FACE_COLUMNS, *TRACK_COLUMNS, *FRAME_COLUMNS}
    banned = ("pixel", "crop", "thumb", "embedding", "descriptor", "feature_vector", "image", "rgb", "patch")
    assert not [c for c in columns for b in banned if b in c]
    assert all(t in ("int64", "float64", "string") for t in {**FACE_COLUMNS, **TRACK_COLUMNS}.values())


def test_stage_writes_tables_csv_on_request_and_a_sidecar(tmp_path):
    import json

    from btb.regions.tables import write_detections, write_regions
    from btb.stages.features import extract_features

    lm = project(0, 0, 0, (120.0, 100.0), 30.0, 320, 240).reshape(1, 10)
    write_detections(detections_frame(0, "yunet", np.array([[100.0, 80, 40, 40]]), np.array([0.9]), lm),
                     tmp_path / "yunet.parquet")
    write_regions(_regions([(0, 95, 75, 50, 50, "yunet", 0.9, 0), (1, 95, 75, 50, 50, "temporal_extend", 0, 0)]),
                  tmp_path / "regions.parquet")
    (tmp_path / "probe.json").write_text(json.dumps({"width": 320, "height": 240}))
    (tmp_path / "frames.tsv").write_text("frame_index\tpts\ttime_base\tpts_time\n" +
                                         "".join(f"{i}\t{i}\t1/25\t{i / 25}\n" for i in range(3)))
    out = tmp_path / "features"
    extract_features(regions=str(tmp_path / "regions.parquet"), detections={"yunet": str(tmp_path / "yunet.parquet")},
                     probe_json=str(tmp_path / "probe.json"), frame_table=str(tmp_path / "frames.tsv"),
                     faces_out=str(out / "faces.parquet"), tracks_out=str(out / "tracks.parquet"),
                     frames_out=str(out / "frames.parquet"), sidecar=str(out / "features.json"),
                     audit=str(tmp_path / "audit.json"), video_id="v", csv=True)
    assert sorted(p.name for p in out.iterdir()) == ["faces.csv", "faces.parquet", "features.json", "frames.csv",
                                                     "frames.parquet", "tracks.csv", "tracks.parquet"]
    meta = json.loads((out / "features.json").read_text())
    assert (meta["width"], meta["height"], meta["frames"], meta["fps"]) == (320, 240, 3, 25.0)
    assert meta["duration_s"] == pytest.approx(0.12) and meta["rows"] == {"faces": 2, "tracks": 1, "frames": 3}
    faces = pd.read_csv(out / "faces.csv")
    assert list(faces["status"]) == ["detected", "filled"] and list(faces.columns) == list(FACE_COLUMNS)
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert {p["path"].rsplit("/", 1)[-1] for p in audit["outputs"]} >= {"faces.csv", "features.json"}


def test_features_can_be_switched_off(tmp_path, models_dir):
    """features.enabled: false plans no features job and the manifest waits for none (a dry run)."""
    from conftest import dry_run_jobs, workflow_config

    from btb.video.demo import write_demo_video

    clip = write_demo_video(tmp_path / "clip.mp4", fps=6, seconds=1.0)
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nv1\t{clip}\n")
    on = dry_run_jobs(tmp_path / "on", workflow_config(models_dir, sheet))
    off = dry_run_jobs(tmp_path / "off", workflow_config(models_dir, sheet, features__enabled=False))
    assert on["extract_features"] == 1 and "extract_features" not in off
    assert {k: v for k, v in on.items() if k != "extract_features"} == off


def test_a_head_track_joins_the_face_it_follows_but_never_two_faces():
    """Two faces side by side, both detected, and the head locator's box around both: still two tracks."""
    lm = np.full((1, 10), np.nan)
    dets = {"yunet": pd.concat([detections_frame(f, "yunet", np.array([[100.0, 100, 30, 30], [135.0, 100, 30, 30]]),
                                                 np.array([0.9, 0.9]), np.vstack([lm, lm])) for f in range(4)])}
    rows = []
    for f in range(4):
        rows += [(f, 95, 95, 40, 40, "yunet", 0.9, 0), (f, 130, 95, 40, 40, "yunet", 0.9, 1),
                 (f, 90, 80, 90, 70, "pose" if f % 2 else "temporal_extend", 0.6, 2)]
    faces = face_rows(_regions(rows), dets, np.arange(4) / 10, 320, 240)
    detected = faces[faces["status"] == "detected"].groupby("track_id").size()
    assert detected.to_dict() == {0: 4, 1: 4}
    assert faces.groupby("frame_index").size().tolist() == [2, 2, 2, 2], "the head box is one of the two faces"


@pytest.mark.e2e
def test_features_released_without_a_video(tmp_path, face_clip, models_dir):
    """outputs.video: false: the features zip is the deliverable; nothing is blurred, encoded or verified, the
    zip is checked, hashed in the manifest and released; no file of the run holds a pixel of the input."""
    import zipfile

    from conftest import copy_clip, run_snakemake, workflow_config

    from btb.cli import main

    clip = copy_clip(face_clip, tmp_path / "in" / "clip.mp4")
    sheet = tmp_path / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nv1\t{clip}\n")
    work = tmp_path / "run"
    run_snakemake(work, workflow_config(models_dir, sheet, outputs__video=False))
    res = work / "results"
    bundle = res / "release" / "v1.deid.features.zip"
    assert bundle.is_file() and not list(res.rglob("*.mp4")), "no video was made"
    assert not (res / "v1" / "verification").exists() and not (res / "v1" / "qa_report.html").exists()
    with zipfile.ZipFile(bundle) as zf:
        assert zf.namelist() == ["faces.parquet", "tracks.parquet", "frames.parquet", "features.json"]
    state = json.loads((res / "v1" / "release.json").read_text())
    assert state["status"] == "released" and state["verdict"] == "not_applicable"
    check = json.loads((res / "v1" / "features_check.json").read_text())
    assert check["passed"] and check["rows"]["faces"] > 0
    manifest = json.loads((res / "v1" / "manifest.json").read_text())
    outputs = [f["path"] for f in manifest["files"] if f["role"] == "output"]
    assert outputs[0] == "results/v1/v1.deid.features.zip"
    assert not {"encode_video", "verify_residual"} & set(manifest["stages"])
    assert main(["verify", str(res)]) == 0
    summary = pd.read_csv(res / "summary.tsv", sep="\t")
    assert list(summary["status"]) == ["done"] and list(summary["release"]) == ["released"]
    # everything the run kept: tables, records and logs, no image or video
    kept = {p.suffix for p in res.rglob("*") if p.is_file()}
    assert not kept & {".mp4", ".nut", ".jpg", ".png", ".mkv"}, kept


def test_features_check_refuses_unknown_columns(tmp_path):
    from btb.features.bundle import check_tables

    faces = face_rows(_regions([]), {}, np.arange(2) / 10, 320, 240)
    faces["thumbnail"] = "x"  # anything beyond the dictionary
    faces.to_parquet(tmp_path / "faces.parquet")
    tracks = track_rows(faces, 0.1)
    tracks.to_parquet(tmp_path / "tracks.parquet")
    frame_rows(faces, np.arange(2) / 10).to_parquet(tmp_path / "frames.parquet")
    (tmp_path / "features.json").write_text(json.dumps({"rows": {"faces": 0, "tracks": 0, "frames": 2}}))
    check = check_tables({n: tmp_path / f"{n}.parquet" for n in ("faces", "tracks", "frames")},
                         tmp_path / "features.json")
    assert not check["passed"] and "faces: columns" in check["problems"][0]
