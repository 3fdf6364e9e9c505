"""Reviewer decisions on one item, and blur regions added by hand: what the gate counts, what it refuses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from btb.audit.chain import read_entries
from btb.audit.hashing import sha256_file
from btb.audit.signing import generate_keypair
from btb.cli import main
from btb.errors import BTBError
from btb.regions.manual import manual_region_rows
from btb.release.gate import decide
from btb.release.manual import check_against_log, checked_region, read_manual
from btb.release.review import decisions_path, record_decision, record_region

ITEMS = """item\tstatus\treason\tfirst_frame\tlast_frame\tstart\tend\tstart_s\tend_s\tframes\tflags\tdetectors\t\
max_score\tbest_frame\tx\ty\tw\th\tcovered\tfeatures_covered
1\topen\t\t0\t3\t00:00.0\t00:00.3\t0.0\t0.3\t4\t4\tyunet\t0.9\t1\t10\t10\t20\t20\t0\t0
2\tdismissed\thand\t5\t5\t00:00.4\t00:00.4\t0.4\t0.4\t1\t1\tyunet\t0.5\t5\t50\t10\t20\t20\t0\t0
3\topen\t\t7\t9\t00:00.6\t00:00.8\t0.6\t0.8\t3\t3\tpose\t0.7\t8\t80\t40\t30\t30\t0\t0
"""


@pytest.fixture
def held(tmp_path, monkeypatch):
    """A results folder with one video held for review (two open items, one dismissed), as the workflow leaves
    it; keys of a trusted reviewer (rivera) and of an untrusted one (mallory)."""
    monkeypatch.chdir(tmp_path)
    res = tmp_path / "results" / "v1"
    (res / "verification").mkdir(parents=True)
    out = res / "v1.deid.mp4"
    out.write_bytes(b"de-identified video")
    (res / "verification" / "review_items.tsv").write_text(ITEMS)
    verdict = {"verdict": "needs_review", "flags": 8, "items": 2, "frames_flagged": 7,
               "output_sha256": sha256_file(out)}
    (res / "verification" / "verdict.json").write_text(json.dumps(verdict))
    (res / "probe.json").write_text(json.dumps({"width": 160, "height": 120}))
    (res / "frames.tsv").write_text("frame_index\tpts\ttime_base\tpts_time\n" +
                                    "".join(f"{i}\t{i}\t1/10\t{i / 10}\n" for i in range(10)))
    state = decide("v1", "results/v1/v1.deid.mp4", "results/v1/verification/verdict.json", None, [])
    (res / "release.json").write_text(json.dumps(state))
    for name in ("rivera", "mallory"):
        generate_keypair(tmp_path / f"{name}.pem", tmp_path / f"{name}.pub.pem")
    return tmp_path


def _decide(root: Path, trusted: list[str]) -> dict:
    manual = root / "results" / "v1" / "manual_regions.json"
    return decide("v1", "results/v1/v1.deid.mp4", "results/v1/verification/verdict.json",
                  str(decisions_path("results", "v1")), trusted, "results/v1/verification/review_items.tsv",
                  str(manual) if manual.is_file() else None)


def test_the_file_is_released_once_every_open_item_is_approved_by_a_trusted_key(held):
    trusted = [(held / "rivera.pub.pem").read_text()]
    assert _decide(held, trusted)["status"] == "needs_review"
    record_decision("results", "v1", "approve", "Rivera", "a hand", held / "rivera.pem", item=1)
    state = _decide(held, trusted)
    assert state["status"] == "needs_review" and "1 of 2 approved" in state["why"]
    record_decision("results", "v1", "approve", "Mallory", "fine", held / "mallory.pem", item=3)
    state = _decide(held, trusted)
    assert state["status"] == "needs_review" and "not signed by a trusted reviewer key" in state["why"]
    record_decision("results", "v1", "approve", "Rivera", "the back of a head", held / "rivera.pem", item=3)
    state = _decide(held, trusted)
    assert state["status"] == "released" and state["why"] == "all 2 open review item(s) approved by Rivera"
    assert state["items_approved"] == {"1": "Rivera", "3": "Rivera"}
    # approvals are of this very file: a new version of it is held again
    (held / "results" / "v1" / "v1.deid.mp4").write_bytes(b"another version")
    assert _decide(held, trusted)["status"] == "needs_review"


def test_an_item_approval_names_an_open_item_and_is_signed(held):
    with pytest.raises(BTBError, match="no open review item 2"):
        record_decision("results", "v1", "approve", "Rivera", "x", held / "rivera.pem", item=2)  # dismissed
    with pytest.raises(BTBError, match="must be signed"):
        record_decision("results", "v1", "approve", "Rivera", "x", None, item=1)
    with pytest.raises(BTBError, match="whole video"):
        record_decision("results", "v1", "reject", "Rivera", "x", None, item=1)
    with pytest.raises(BTBError, match="reason"):
        record_decision("results", "v1", "approve", "Rivera", " ", held / "rivera.pem", item=1)
    assert main(["review", "approve", "v1", "--item", "1", "--reviewer", "Rivera", "--reason", "hand",
                 "--key", str(held / "rivera.pem")]) == 0
    assert [(e["decision"], e["item"]) for e in read_entries(decisions_path("results", "v1"))] == [("approve_item", 1)]


def test_a_rejection_outranks_item_approvals(held):
    trusted = [(held / "rivera.pub.pem").read_text()]
    for item in (1, 3):
        record_decision("results", "v1", "approve", "Rivera", "ok", held / "rivera.pem", item=item)
    record_decision("results", "v1", "reject", "Lee", "a face at 00:00.9 is readable")
    assert _decide(held, trusted)["status"] == "rejected"


def test_manual_regions_are_recorded_clipped_and_tamper_evident(held):
    entry = record_region("results", "v1", {"first_frame": 2, "last_frame": 40, "x": -5, "y": 100, "w": 30,
                                            "h": 50}, "Rivera", "a profile at the edge", held / "rivera.pem", item=3)
    path = held / "results" / "v1" / "manual_regions.json"
    region = read_manual(path)[0]
    assert {k: region[k] for k in ("first_frame", "last_frame", "x", "y", "w", "h")} == {
        "first_frame": 2, "last_frame": 9, "x": 0, "y": 100, "w": 25, "h": 20}, "clipped to the frame and the video"
    assert region["reviewer"] == "Rivera" and region["item"] == 3
    assert entry["decision"] == "add_region" and entry["manual_regions_sha256"] == sha256_file(path)
    assert "signature" in entry
    check_against_log(path, read_entries(decisions_path("results", "v1")))
    _decide(held, [])  # the gate accepts the file the log recorded
    # a region removed outside the reviewer's tools: the gate refuses to decide
    path.write_text(json.dumps({"video_id": "v1", "regions": []}))
    with pytest.raises(BTBError, match="not the manual-regions file the review log records"):
        _decide(held, [])
    path.unlink()
    with pytest.raises(BTBError, match="is missing"):
        check_against_log(path, read_entries(decisions_path("results", "v1")))
    # and a file no log entry records
    path.write_text(json.dumps({"video_id": "v1", "regions": [region]}))
    with pytest.raises(BTBError, match="no review log entry records"):
        check_against_log(path, [])


@pytest.mark.parametrize(("region", "match"), [
    ({"first_frame": 5, "last_frame": 2, "x": 0, "y": 0, "w": 10, "h": 10}, "empty"),
    ({"first_frame": 0, "last_frame": 2, "x": 200, "y": 0, "w": 10, "h": 10}, "outside"),
    ({"first_frame": 0, "last_frame": 2, "x": 0, "y": 0, "w": 2, "h": 10}, "smaller"),
    ({"first_frame": 0, "last_frame": "two", "x": 0, "y": 0, "w": 10, "h": 10}, "numeric"),
])
def test_bad_regions_are_refused(region, match):
    with pytest.raises(BTBError, match=match):
        checked_region(region, 160, 120, 10)


def test_manual_rows_cover_every_frame_of_their_range_as_boxes():
    regions = [{"id": 1, "first_frame": 2, "last_frame": 4, "x": 1, "y": 2, "w": 10, "h": 12},
               {"id": 2, "first_frame": 8, "last_frame": 20, "x": 5, "y": 5, "w": 8, "h": 8}]
    rows = manual_region_rows(regions, first_region_id=100, first_track_id=7, n_frames=10)
    assert list(rows["frame_index"]) == [2, 3, 4, 8, 9]
    assert list(rows["region_id"]) == [100, 101, 102, 103, 104]
    assert list(rows["track_id"]) == [7, 7, 7, 8, 8]
    assert set(rows["shape"]) == {"box"} and set(rows["source"]) == {"manual"}


def test_merge_stage_adds_manual_regions(tmp_path):
    from btb.config import defaults
    from btb.regions.tables import empty_detections, read_regions, write_detections
    from btb.stages.regions import merge_regions

    det = tmp_path / "yunet.parquet"
    write_detections(empty_detections(), det)
    (tmp_path / "probe.json").write_text(json.dumps({"width": 160, "height": 120}))
    (tmp_path / "frames.tsv").write_text("frame_index\tpts\ttime_base\tpts_time\n" +
                                         "".join(f"{i}\t{i}\t1/10\t{i / 10}\n" for i in range(6)))
    manual = tmp_path / "manual_regions.json"
    manual.write_text(json.dumps({"video_id": "v", "regions": [
        {"id": 1, "first_frame": 1, "last_frame": 3, "x": 4, "y": 4, "w": 20, "h": 20, "reviewer": "R",
         "reason": "missed"}]}))
    merge_regions(detections={"yunet": str(det)}, probe_json=str(tmp_path / "probe.json"),
                  frame_table=str(tmp_path / "frames.tsv"), out=str(tmp_path / "regions.parquet"),
                  audit=str(tmp_path / "audit.json"), video_id="v", merge=defaults()["merge"], manual=str(manual))
    regions = read_regions(tmp_path / "regions.parquet")
    assert list(regions["frame_index"]) == [1, 2, 3] and set(regions["source"]) == {"manual"}
    audit = json.loads((tmp_path / "audit.json").read_text())
    assert audit["notes"]["manual_regions"][0]["reason"] == "missed"
    hashed = {Path(f["path"]).name: f["sha256"] for f in audit["inputs"]}
    assert hashed["manual_regions.json"] == sha256_file(manual), "the stage record hashes the reviewers' regions"


def test_a_removed_region_is_caught_even_with_a_forged_log_entry(held):
    """The hash chain can be extended by anyone: a forger who drops a region from the file and appends an entry
    with the new file's hash is still caught, because the file must hold every logged region, in order."""
    from btb.audit.chain import append_entry

    for x in (10, 60):
        record_region("results", "v1", {"first_frame": 0, "last_frame": 9, "x": x, "y": 10, "w": 30, "h": 30},
                      "Rivera", "missed face", held / "rivera.pem")
    path = held / "results" / "v1" / "manual_regions.json"
    data = json.loads(path.read_text())
    data["regions"] = data["regions"][:1]
    path.write_text(json.dumps(data))
    append_entry(decisions_path("results", "v1"), {"decision": "add_region", "region": data["regions"][0],
                                                   "manual_regions_sha256": sha256_file(path)})
    with pytest.raises(BTBError, match="not the manual-regions file"):
        _decide(held, [])


def test_a_region_that_cannot_be_recorded_leaves_the_file_as_it_was(held, tmp_path):
    bad_key = tmp_path / "not-a-key.pem"
    bad_key.write_text("nonsense")
    with pytest.raises(BTBError):
        record_region("results", "v1", {"first_frame": 0, "last_frame": 9, "x": 10, "y": 10, "w": 30, "h": 30},
                      "Rivera", "missed face", bad_key)
    assert not (held / "results" / "v1" / "manual_regions.json").exists()
    assert not read_entries(decisions_path("results", "v1"))


def test_an_item_approval_does_not_carry_over_to_a_renumbered_item(held):
    """Verification numbers items afresh; a re-verification (new settings, same output) that gives number 3 to
    another item does not inherit item 3's approval."""
    trusted = [(held / "rivera.pub.pem").read_text()]
    for item in (1, 3):
        record_decision("results", "v1", "approve", "Rivera", "a hand", held / "rivera.pem", item=item)
    assert _decide(held, trusted)["status"] == "released"
    items = held / "results" / "v1" / "verification" / "review_items.tsv"
    items.write_text(ITEMS.replace("3\topen\t\t7\t9\t00:00.6\t00:00.8\t0.6\t0.8\t3\t3\tpose\t0.7\t8\t80",
                                   "3\topen\t\t7\t9\t00:00.6\t00:00.8\t0.6\t0.8\t3\t3\tyunet\t0.9\t8\t20"))
    state = _decide(held, trusted)
    assert state["status"] == "needs_review" and state["items_approved"] == {"1": "Rivera"}


def test_a_rejection_stands_for_later_versions_until_an_approval_of_the_new_file(held):
    trusted = [(held / "rivera.pub.pem").read_text()]
    record_decision("results", "v1", "reject", "Lee", "a sibling's face at 00:41")
    out = held / "results" / "v1" / "v1.deid.mp4"
    out.write_bytes(b"re-blurred after a region was added")
    verdict = held / "results" / "v1" / "verification" / "verdict.json"
    verdict.write_text(json.dumps({"verdict": "pass", "flags": 0, "items": 0, "frames_flagged": 0,
                                   "output_sha256": sha256_file(out)}))
    (held / "results" / "v1" / "release.json").write_text(json.dumps(
        {**json.loads((held / "results" / "v1" / "release.json").read_text()), "output_sha256": sha256_file(out)}))
    assert _decide(held, trusted)["status"] == "rejected", "passing verification does not undo a rejection"
    record_decision("results", "v1", "approve", "Rivera", "sibling now blurred", held / "rivera.pem")
    assert _decide(held, trusted)["status"] == "released"


def test_no_approval_releases_a_file_that_lacks_its_blur(held):
    """A render item (the file does not show the blur its regions say) cannot be approved, neither as an item nor
    with the whole file, and approvals recorded before verification found it do not release the file."""
    trusted = [(held / "rivera.pub.pem").read_text()]
    record_decision("results", "v1", "approve", "Rivera", "a hand", held / "rivera.pem", item=1)
    record_decision("results", "v1", "approve", "Rivera", "the back of a head", held / "rivera.pem", item=3)
    record_decision("results", "v1", "approve", "Rivera", "all fine", held / "rivera.pem")  # the whole file
    assert _decide(held, trusted)["status"] == "released"
    items = held / "results" / "v1" / "verification" / "review_items.tsv"
    items.write_text(ITEMS.replace("\tpose\t", "\tpose,render\t"))  # item 3 (same frames and box) now a fault
    state = _decide(held, trusted)
    assert state["status"] == "needs_review" and "render item(s) 3" in state["why"], state
    assert state["items_approved"] == {"1": "Rivera"}
    with pytest.raises(BTBError, match="render items"):
        record_decision("results", "v1", "approve", "Rivera", "looks fine", held / "rivera.pem", item=3)
    with pytest.raises(BTBError, match="render items"):
        record_decision("results", "v1", "approve", "Rivera", "looks fine", held / "rivera.pem")
    record_decision("results", "v1", "approve", "Rivera", "still a hand", held / "rivera.pem", item=1)  # others can
    record_decision("results", "v1", "reject", "Rivera", "re-encode it")
    assert _decide(held, trusted)["status"] == "rejected"
