"""Residual verification and the release gate: an unblurred face in the output is flagged, the output is
held for review (fail closed) until a reviewer approves it; decisions are hash-chained."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from conftest import copy_clip, run_snakemake, workflow_config

from btb.cli import main
from btb.errors import BTBError
from btb.review import check_chain, record_decision

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory, face_clip, models_dir):
    """Decision thresholds no detector reaches: nothing is blurred, so the output shows both faces."""
    work = tmp_path_factory.mktemp("planted")
    good = copy_clip(face_clip, work / "good.mp4")
    bad = copy_clip(face_clip, work / "bad.mp4")
    sheet = work / "samples.tsv"
    sheet.write_text(f"video_id\tpath\nbad\t{bad}\n")
    cfg = workflow_config(models_dir, sheet)
    cfg["merge"]["thresholds"] = {"yunet": 1.0, "retinaface": 1.0}
    run_snakemake(work, cfg)
    (work / "summary_bad.tsv").write_text((work / "results" / "summary.tsv").read_text())
    ok_sheet = work / "ok.tsv"
    ok_sheet.write_text(f"video_id\tpath\ngood\t{good}\n")
    run_snakemake(work, workflow_config(models_dir, ok_sheet))
    return work


def test_clean_output_is_released(planted_run):
    state = json.loads((planted_run / "results" / "good" / "release.json").read_text())
    assert state["status"] == "released" and state["verdict"] == "pass"
    assert (planted_run / "results" / "release" / "good.deid.mp4").is_file()


def test_unblurred_face_is_flagged_and_held(planted_run):
    res = planted_run / "results" / "bad"
    flags = pd.read_csv(res / "verification" / "flags.tsv", sep="\t")
    assert flags["frame_index"].nunique() == 24, "both faces are visible in every frame"
    assert set(flags["detector"]) == {"yunet", "retinaface"} and (flags["covered"] < 0.5).all()
    state = json.loads((res / "release.json").read_text())
    assert state["status"] == "needs_review" and state["released_path"] is None
    assert not (planted_run / "results" / "release" / "bad.deid.mp4").exists()
    manifest = json.loads((res / "manifest.json").read_text())
    assert manifest["stages"]["verify_residual"]["notes"]["verdict"] == "needs_review"
    summary = pd.read_csv(planted_run / "summary_bad.tsv", sep="\t").set_index("video_id")
    assert summary.loc["bad", "release"] == "needs_review"


def test_review_records_decisions_and_releases_on_approval(planted_run, capsys):
    results = planted_run / "results"
    assert main(["review", "list", "--results", str(results)]) == 0
    assert "needs_review" in capsys.readouterr().out
    with pytest.raises(BTBError, match="reason"):
        record_decision(results, "bad", "approve", "Dr. Rivera", "  ")
    assert main(["review", "reject", "bad", "--reviewer", "Dr. Rivera", "--reason", "faces visible",
                 "--results", str(results)]) == 0
    assert json.loads((results / "bad" / "release.json").read_text())["status"] == "rejected"
    assert main(["review", "approve", "bad", "--reviewer", "Dr. Rivera",
                 "--reason", "consented adult actors, release approved by IRB 2026-17", "--results", str(results)]) == 0
    state = json.loads((results / "bad" / "release.json").read_text())
    assert state["status"] == "released" and state["decision"]["reviewer"] == "Dr. Rivera"
    assert (results / "release" / "bad.deid.mp4").is_file()
    log = results / "bad" / "review.jsonl"
    assert check_chain(log) == []
    lines = log.read_text().splitlines()
    log.write_text(lines[1] + "\n")  # the rejection is deleted
    assert check_chain(log) != []
    with pytest.raises(BTBError, match="does not follow"):
        record_decision(results, "bad", "approve", "Mallory", "covering tracks")


def test_qa_reports(planted_run):
    bad = (planted_run / "results" / "bad" / "qa_report.html").read_text()
    good = (planted_run / "results" / "good" / "qa_report.html").read_text()
    assert "needs_review" in bad and bad.count("<figure>") >= 1 and "from the de-identified output" in bad
    assert "<h2>Flagged frames (from the de-identified output)</h2><p>none</p>" in good
    run_html = (planted_run / "results" / "summary.html").read_text()
    assert "good" in run_html and "released" in run_html
