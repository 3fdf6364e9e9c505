"""Residual verification and the release gate: an unblurred face in the output is flagged, the output is
held for review (fail closed) until a reviewer approves it; decisions are hash-chained."""

from __future__ import annotations

import base64
import json
import re
from pathlib import Path

import cv2
import numpy as np
import pandas as pd
import pytest
from conftest import copy_clip, planted_config, run_snakemake, workflow_config

from btb.audit.chain import check_chain
from btb.cli import main
from btb.config import defaults
from btb.detect.factory import make_detector
from btb.errors import BTBError
from btb.release.review import record_decision

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory, face_clip, models_dir):
    """Decision thresholds no detector reaches: nothing is blurred, so the output shows both faces. A reviewer
    key pair is made, its public half trusted by the run (audit.reviewer_keys)."""
    from btb.audit.signing import generate_keypair

    work = tmp_path_factory.mktemp("planted")
    good = copy_clip(face_clip, work / "good.mp4")
    bad = copy_clip(face_clip, work / "bad.mp4")
    keys = work / "keys"
    generate_keypair(keys / "rivera.pem", keys / "rivera.pub.pem")
    generate_keypair(keys / "mallory.pem", keys / "mallory.pub.pem")
    sheet = work / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nbad\t{bad}\n")
    cfg = planted_config(models_dir, sheet, keys / "rivera.pub.pem")
    run_snakemake(work, cfg)
    (work / "summary_bad.tsv").write_text((work / "results" / "summary.tsv").read_text())
    ok_sheet = work / "ok.tsv"
    ok_sheet.write_text(f"video_id\tpath\ngood\t{good}\n")
    ok = workflow_config(models_dir, ok_sheet)
    ok["audit"]["reviewer_keys"] = cfg["audit"]["reviewer_keys"]
    run_snakemake(work, ok)
    return work, cfg, ok, keys


def test_clean_output_is_released(planted_run):
    work = planted_run[0]
    state = json.loads((work / "results" / "good" / "release.json").read_text())
    assert state["status"] == "released" and state["verdict"] == "pass"
    published = json.loads((work / "results" / "good" / "publication.json").read_text())
    assert published["released_path"] == "results/release/good.deid.mp4" and published["status"] == "released"
    assert (work / "results" / "release" / "good.deid.mp4").is_file()
    manifest = json.loads((work / "results" / "good" / "manifest.json").read_text())
    records = {Path(f["path"]).name for f in manifest["files"] if f["role"] == "record"}
    assert {"release.json", "qa_report.html", "verify_residual.json"} <= records, "the manifest vouches for them"


def manifest_notes(res: Path) -> dict:
    return json.loads((res / "manifest.json").read_text())["stages"]["verify_residual"]["notes"]


def test_unblurred_face_is_flagged_and_held(planted_run):
    work = planted_run[0]
    res = work / "results" / "bad"
    flags = pd.read_csv(res / "verification" / "flags.tsv", sep="\t")
    assert flags["frame_index"].nunique() == 24, "both faces are visible in every frame"
    # the face detectors' stored input detections and the locator's heads; no render flag (nothing was meant to
    # be blurred, and nothing is)
    assert set(flags["detector"]) == {"yunet:input", "retinaface:input", "pose"} and (flags["covered"] < 0.5).all()
    assert manifest_notes(res)["redetected"] == [] and manifest_notes(res)["render_checked"]
    assert manifest_notes(res)["stored_checked"] == ["yunet", "retinaface", "pose"]
    # the head locator's second signal: heads found on the input (on 20 of the 24 frames), unblurred
    assert flags.loc[flags["detector"] == "pose", "frame_index"].nunique() >= 18
    state = json.loads((res / "release.json").read_text())
    assert state["status"] == "needs_review"
    assert json.loads((res / "publication.json").read_text())["released_path"] is None
    assert not (work / "results" / "release" / "bad.deid.mp4").exists()
    manifest = json.loads((res / "manifest.json").read_text())
    assert manifest["stages"]["verify_residual"]["notes"]["verdict"] == "needs_review"
    summary = pd.read_csv(work / "summary_bad.tsv", sep="\t").set_index("video_id")
    assert summary.loc["bad", "release"] == "needs_review"


def test_review_decisions_are_signed_and_release_only_through_the_workflow(planted_run, capsys):
    work, cfg, _, keys = planted_run
    results = work / "results"
    assert main(["review", "list", "--results", str(results)]) == 0
    listed = capsys.readouterr().out
    assert "needs_review" in listed and re.search(r"item 1: 00:00\.\d-00:0\d\.\d, \d+ frame", listed), listed
    with pytest.raises(BTBError, match="reason"):
        record_decision(results, "bad", "approve", "Dr. Rivera", "  ", keys / "rivera.pem")
    with pytest.raises(BTBError, match="video_id"):
        record_decision(results, "../good", "reject", "Dr. Rivera", "path in an id")
    assert main(["review", "approve", "bad", "--reviewer", "Mallory", "--reason", "unsigned",
                 "--results", str(results)]) == 2, "an approval must be signed"
    # signed, but by a key the run does not trust: recorded, and it does not release
    assert main(["review", "approve", "bad", "--reviewer", "Mallory", "--reason", "looks fine",
                 "--key", str(keys / "mallory.pem"), "--results", str(results)]) == 0
    assert not (results / "release" / "bad.deid.mp4").exists(), "a decision alone releases nothing"
    run_snakemake(work, cfg)
    state = json.loads((results / "bad" / "release.json").read_text())
    assert state["status"] == "needs_review" and "not signed by a trusted reviewer key" in state["why"]
    assert not (results / "release" / "bad.deid.mp4").exists()
    # the trusted reviewer's signed approval: released by the next run, after its manifest
    assert main(["review", "approve", "bad", "--reviewer", "Dr. Rivera", "--key", str(keys / "rivera.pem"),
                 "--reason", "consented adult actors, release approved by IRB 2026-17", "--results", str(results)]) == 0
    run_snakemake(work, cfg)
    state = json.loads((results / "bad" / "release.json").read_text())
    assert state["status"] == "released" and state["decision"]["reviewer"] == "Dr. Rivera"
    assert (results / "release" / "bad.deid.mp4").is_file()
    manifest = json.loads((results / "bad" / "manifest.json").read_text())
    assert "review.jsonl" in {Path(f["path"]).name for f in manifest["files"] if f["role"] == "record"}
    assert main(["verify", str(results)]) == 0
    log = results / "bad" / "review.jsonl"
    assert check_chain(log) == []
    lines = log.read_text().splitlines()
    log.write_text("\n".join(lines[:-1]) + "\n")  # the newest entry (the approval) is deleted
    assert any("review.jsonl.head" in p for p in check_chain(log))
    with pytest.raises(BTBError, match="entries end in"):
        record_decision(results, "bad", "reject", "Mallory", "covering tracks")
    assert main(["verify", str(results)]) == 1, "the manifest vouches for the review log"
    log.write_text("\n".join(lines) + "\n")


def test_rejection_wins_over_a_passing_verification(planted_run):
    work, _, ok, _ = planted_run
    results = work / "results"
    assert main(["review", "reject", "good", "--reviewer", "Dr. Rivera", "--reason", "a sibling at 00:01",
                 "--results", str(results)]) == 0
    run_snakemake(work, ok)
    state = json.loads((results / "good" / "release.json").read_text())
    assert state["status"] == "rejected" and not (results / "release" / "good.deid.mp4").exists()


def test_qa_reports_show_no_face(planted_run, models_dir):
    work = planted_run[0]
    bad = (work / "results" / "bad" / "qa_report.html").read_text()
    good = (work / "results" / "good" / "qa_report.html").read_text()
    run_html = (work / "results" / "summary.html").read_text()
    assert "good" in run_html and "released" in run_html
    assert "needs_review" in bad and bad.count("<figure>") >= 1 and "from the de-identified output" in bad
    assert "judge it.</p><p>none</p>" in good and "<figure>" not in good
    # no picture in any report shows a face: both detectors run over every embedded image (enlarged 2x)
    detect = defaults()["detect"]
    detectors = [make_detector("yunet", str(models_dir / "face_detection_yunet_2023mar.onnx"), detect["yunet"], 1,
                               "cpu"),
                 make_detector("retinaface", str(models_dir / "retinaface_mnv2_floor0.05.onnx"), detect["retinaface"],
                               1, "cpu")]
    pictures = re.findall(r"data:image/png;base64,([A-Za-z0-9+/=]+)", bad + good + run_html)
    assert len(pictures) >= 1, "the held video's items have thumbnails"
    # the timelines are drawn as SVG paths: no picture in them
    for page in (bad, good):
        svg = page[page.index("<h2>Timeline</h2><svg"):page.index("</svg>")]
        assert "<path" in svg and "<image" not in svg and "base64" not in svg
    for b64 in pictures:
        img = cv2.imdecode(np.frombuffer(base64.b64decode(b64), np.uint8), cv2.IMREAD_COLOR)
        for d in detectors:
            found = d.detect(cv2.resize(img, None, fx=2, fy=2))
            assert not (found.scores >= 0.5).any(), "a report picture shows a face"


def test_sampled_verification_still_flags_every_frame(planted_run, models_dir, tmp_path):
    """verify.every = 8: the detectors run on output frames 0, 8 and 16 only, and the stored input detections
    flag the unblurred faces in every frame, so the output is held all the same."""
    from btb.stages.verify import verify_residual

    res = planted_run[0] / "results" / "bad"
    detect_cfg = {**{d: defaults()["detect"][d] for d in ("yunet", "retinaface")}, "device": "cpu"}
    models_ = {"yunet": str(models_dir / "face_detection_yunet_2023mar.onnx"),
               "retinaface": str(models_dir / "retinaface_mnv2_floor0.05.onnx")}
    tables = {"yunet": str(res / "detections" / "yunet.parquet"),
              "retinaface": str(res / "detections" / "retinaface_all.parquet")}
    params = {**defaults()["verify"], "thresholds": {"yunet": 0.4, "retinaface": 0.15}, "every": 8,
              "redetect": ["yunet"]}
    out = tmp_path / "verification"
    verify_residual(output=str(res / "bad.deid.mp4"), regions=str(res / "regions.parquet"), models=models_,
                    source=str(planted_run[0] / "bad.mp4"), blur=defaults()["blur"],
                    flags_out=str(out / "flags.tsv"), verdict_out=str(out / "verdict.json"),
                    audit=str(out / "audit.json"), video_id="bad", detect=detect_cfg, verify=params, threads=1,
                    tables=tables, frame_table=str(res / "frames.tsv"), items_out=str(out / "items.tsv"))
    v = json.loads((out / "verdict.json").read_text())
    assert v["verdict"] == "needs_review" and v["frames_checked"] == 24 and v["frames_detected"] == 3
    flags = pd.read_csv(out / "flags.tsv", sep="\t")
    assert flags["frame_index"].nunique() == 24
    items = pd.read_csv(out / "items.tsv", sep="\t")
    assert (items["status"] == "open").any() and set(items["first_frame"]) >= {0}, "flags grouped into items"
    assert items["flags"].sum() == len(flags) and v["items"] == int((items["status"] == "open").sum())
    on_output = flags[~flags["detector"].str.endswith(":input")]
    assert set(on_output["frame_index"]) == {0, 8, 16}
    audit = json.loads((out / "audit.json").read_text())
    assert set(tables.values()) <= {i["path"] for i in audit["inputs"]}, "the stored tables are hashed inputs"
    with pytest.raises(ValueError, match="stored detection tables"):
        verify_residual(output=str(res / "bad.deid.mp4"), regions=str(res / "regions.parquet"), models=models_,
                        flags_out=str(out / "f.tsv"), verdict_out=str(out / "v.json"), audit=str(out / "a.json"),
                        video_id="bad", detect=detect_cfg, verify=params, threads=1, tables=None,
                        source=str(planted_run[0] / "bad.mp4"), blur=defaults()["blur"],
                        frame_table=str(res / "frames.tsv"), items_out=str(out / "i.tsv"))


def test_an_output_without_its_blur_is_caught_by_the_render_check(planted_run, tmp_path):
    """The released video's regions and detections, with an output file that lacks the blur (the planted run's
    unblurred encode of the same clip): the detections are all covered by the regions, so only the render check
    can tell; it flags the regions on every frame, and the output is held."""
    from btb.stages.verify import verify_residual

    work = planted_run[0]
    good = work / "results" / "good"
    cfg = defaults()
    tables = {"yunet": str(good / "detections" / "yunet.parquet"),
              "retinaface": str(good / "detections" / "retinaface_all.parquet")}
    out = tmp_path / "verification"
    common = dict(regions=str(good / "regions.parquet"), models={}, video_id="good",
                  detect={"device": "cpu"}, threads=1, tables=tables, frame_table=str(good / "frames.tsv"),
                  source=str(work / "good.mp4"), blur=cfg["blur"])
    verify_residual(output=str(work / "results" / "bad" / "bad.deid.mp4"), flags_out=str(out / "flags.tsv"),
                    verdict_out=str(out / "verdict.json"), audit=str(out / "audit.json"), items_out=str(out / "i.tsv"),
                    verify=cfg["verify"], **common)
    v = json.loads((out / "verdict.json").read_text())
    flags = pd.read_csv(out / "flags.tsv", sep="\t")
    assert v["verdict"] == "needs_review" and set(flags["detector"]) == {"render"}
    assert flags["frame_index"].nunique() == 24 and (flags["score"] > 0.8).all(), "the detail is all there"
    items = pd.read_csv(out / "i.tsv", sep="\t")
    assert (items["status"] == "open").all() and items["detectors"].eq("render").all()
    # the same check on the real output passes, and with the check off nothing else sees the missing blur
    ok = tmp_path / "ok"
    verify_residual(output=str(good / "good.deid.mp4"), flags_out=str(ok / "flags.tsv"),
                    verdict_out=str(ok / "verdict.json"), audit=str(ok / "audit.json"), items_out=str(ok / "i.tsv"),
                    verify=cfg["verify"], **common)
    assert json.loads((ok / "verdict.json").read_text())["verdict"] == "pass"
    off = tmp_path / "off"
    verify_residual(output=str(work / "results" / "bad" / "bad.deid.mp4"), flags_out=str(off / "flags.tsv"),
                    verdict_out=str(off / "verdict.json"), audit=str(off / "audit.json"), items_out=str(off / "i.tsv"),
                    verify={**cfg["verify"], "render": {**cfg["verify"]["render"], "enabled": False}}, **common)
    assert json.loads((off / "verdict.json").read_text())["verdict"] == "pass"
