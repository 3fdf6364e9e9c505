"""The release gate, unit by unit: the decision (before the manifest) and the release (after it, only when the
manifest vouches for the file and the decision), failing closed, with signed approvals."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from btb.audit.hashing import sha256_file
from btb.audit.io import write_json
from btb.audit.manifest import build_manifest, record_manifest
from btb.audit.signing import generate_keypair, load_private_key, public_pem
from btb.audit.verify import verify_release
from btb.errors import BTBError
from btb.release.gate import decide, publish
from btb.release.review import record_decision


@pytest.fixture
def video(tmp_path: Path, monkeypatch) -> dict[str, str]:
    """A de-identified file with a verdict (``flags`` > 0: held) in results/v/, run from ``tmp_path``."""
    monkeypatch.chdir(tmp_path)
    res = Path("results") / "v"
    (res / "audit").mkdir(parents=True)
    Path("in.mp4").write_bytes(b"input video bytes")
    out = res / "v.deid.mp4"
    out.write_bytes(b"de-identified bytes")
    Path("probe.json").write_text("{}")
    Path("check.json").write_text(json.dumps({"passed": True}))
    write_json(res / "verdict.json", {"verdict": "needs_review", "flags": 3, "frames_flagged": 2,
                                      "output_sha256": sha256_file(out)})
    return {"out": str(out), "verdict": str(res / "verdict.json"), "decision": str(res / "release.json"),
            "manifest": str(res / "manifest.json"), "log": str(res / "review.jsonl"), "release": "results/release"}


def run_release(v: dict[str, str], trusted: list[str], signing_key: str | None = None) -> dict:
    """As the workflow does: decide, write the manifest (with the decision as a record), then release."""
    write_json(v["decision"], decide("v", v["out"], v["verdict"], v["log"], trusted))
    write_json("results/v/audit/merge_regions.json", {"stage": "merge_regions", "counts": {"blur_regions": 3}})
    records = [v["decision"], "probe.json", "results/v/audit/merge_regions.json"]
    records += [v["log"], f"{v['log']}.head"] if Path(v["log"]).is_file() else []
    m = build_manifest(video_id="v", video="in.mp4", probe_json="probe.json", stage_audits=[], model_audits=[],
                       outputs=[v["out"], v["verdict"]], output_check="check.json", records=records,
                       config={"merge": {"mode": "union"}})
    record_manifest(v["manifest"], m, signing_key)
    pem = public_pem(load_private_key(signing_key)) if signing_key else None
    return publish("v", v["out"], v["decision"], v["manifest"], v["release"], pem)


def keys(tmp_path: Path, name: str) -> tuple[str, str]:
    priv, pub = tmp_path / f"{name}.pem", tmp_path / f"{name}.pub.pem"
    generate_keypair(priv, pub)
    return str(priv), pub.read_text()


def test_a_held_video_is_not_released_and_verify_agrees(video):
    state = run_release(video, trusted=[])
    assert state["status"] == "needs_review" and state["released_path"] is None
    assert not Path(video["release"], "v.deid.mp4").exists()
    assert verify_release("results") == ([], 0)


def test_signed_approval_by_a_trusted_key_releases_after_the_manifest(video, tmp_path):
    priv, pub = keys(tmp_path, "rivera")
    run_release(video, trusted=[pub])
    entry = record_decision("results", "v", "approve", "Dr. Rivera", "consented actors", priv)
    assert entry["signature"]["algorithm"] == "Ed25519"
    assert not Path(video["release"], "v.deid.mp4").exists(), "recording a decision releases nothing"
    state = run_release(video, trusted=[pub])
    assert state["status"] == "released"
    assert Path(video["release"], "v.deid.mp4").read_bytes() == b"de-identified bytes"
    assert json.loads(Path(video["decision"]).read_text())["decision"]["signed_by"]
    assert verify_release("results") == ([], 1)


@pytest.mark.parametrize("how", ["unsigned", "untrusted key", "forged entry"])
def test_an_approval_that_is_not_signed_by_a_trusted_key_releases_nothing(video, tmp_path, how):
    priv, pub = keys(tmp_path, "rivera")
    other, _ = keys(tmp_path, "mallory")
    run_release(video, trusted=[pub])
    if how == "unsigned":
        with pytest.raises(BTBError, match="must be signed"):
            record_decision("results", "v", "approve", "Mallory", "looks fine")
        from btb.audit.chain import append_entry

        append_entry(video["log"], {"video_id": "v", "decision": "approve", "reviewer": "Mallory", "reason": "x",
                                    "output_sha256": sha256_file(video["out"])})
    elif how == "untrusted key":
        record_decision("results", "v", "approve", "Mallory", "looks fine", other)
    else:  # a signed approval of Rivera's, its reason changed afterwards (the chain itself rebuilt)
        entry = record_decision("results", "v", "approve", "Dr. Rivera", "only frames 1-10", priv)
        forged = {k: v for k, v in entry.items() if k != "prev_sha256"} | {"reason": "all of it"}
        Path(video["log"]).unlink()
        Path(f"{video['log']}.head").unlink()
        from btb.audit.chain import append_entry

        append_entry(video["log"], forged)
    state = run_release(video, trusted=[pub])
    assert state["status"] == "needs_review"
    assert "not signed by a trusted reviewer key" in json.loads(Path(video["decision"]).read_text())["why"]
    assert not Path(video["release"], "v.deid.mp4").exists()


def test_a_file_copied_into_the_release_area_fails_verify(video, tmp_path):
    run_release(video, trusted=[])
    Path(video["release"]).mkdir(parents=True, exist_ok=True)
    Path(video["release"], "v.deid.mp4").write_bytes(Path(video["out"]).read_bytes())  # the held output
    Path(video["release"], "raw_input.mp4").write_bytes(b"input video bytes")
    problems, checked = verify_release("results")
    assert checked == 2
    text = "\n".join(map(str, problems))
    assert "raw_input.mp4: no manifest" in text and "does not release it" in text


def test_an_edited_decision_is_caught(video, tmp_path):
    """release.json changed from needs_review to released after the run: the manifest no longer vouches for
    it, so the release refuses and verify fails."""
    run_release(video, trusted=[])
    d = json.loads(Path(video["decision"]).read_text()) | {"status": "released"}
    Path(video["decision"]).write_text(json.dumps(d))
    with pytest.raises(BTBError, match="does not verify"):
        publish("v", video["out"], video["decision"], video["manifest"], video["release"])
    Path(video["release"]).mkdir(parents=True, exist_ok=True)
    os.link(video["out"], Path(video["release"], "v.deid.mp4"))
    problems, _ = verify_release("results")
    assert problems and "does not verify" in str(problems[0])


@pytest.mark.parametrize("damage", ["review log", "verdict"])
def test_an_undecidable_release_withdraws_the_earlier_copy(video, tmp_path, damage):
    priv, pub = keys(tmp_path, "rivera")
    run_release(video, trusted=[pub])
    record_decision("results", "v", "approve", "Dr. Rivera", "consented actors", priv)
    run_release(video, trusted=[pub])
    assert Path(video["release"], "v.deid.mp4").is_file()
    if damage == "review log":
        Path(video["log"]).write_text('{"decision": "approve", "not": "chained"}\n')
        # the decision cannot be made: the workflow's job fails, and the failure handler withdraws the copy
        with pytest.raises(BTBError):
            decide("v", video["out"], video["verdict"], video["log"], [pub])
        from btb.audit.failures import record_failures
        from btb.samples import Sample

        Path(video["decision"]).unlink()
        Path(video["manifest"]).unlink()
        record_failures({"v": Sample("v", "in.mp4")}, "results")
    else:
        Path(video["verdict"]).write_text("{truncated")
        with pytest.raises(BTBError):
            publish("v", video["out"], video["decision"], video["manifest"], video["release"])
    assert not Path(video["release"], "v.deid.mp4").exists()


def test_signed_manifests_are_checked_before_release(video, tmp_path):
    run_key, _ = keys(tmp_path, "run")
    other, other_pub = keys(tmp_path, "other")
    write_json(video["verdict"], {"verdict": "pass", "flags": 0, "frames_flagged": 0,
                                  "output_sha256": sha256_file(video["out"])})
    assert run_release(video, trusted=[], signing_key=run_key)["signature_checked"]
    assert Path(video["release"], "v.deid.mp4").is_file()
    with pytest.raises(BTBError, match="does not verify"):
        publish("v", video["out"], video["decision"], video["manifest"], video["release"], other_pub)
    assert not Path(video["release"], "v.deid.mp4").exists()


@pytest.mark.parametrize("record", ["probe.json", "results/v/audit/merge_regions.json", "release.json"])
def test_an_edited_record_fails_verify(video, record):
    """The probe, every stage's audit record and the release decision are hashed in the manifest."""
    from btb.audit.verify import verify_manifest

    run_release(video, trusted=[])
    path = video["decision"] if record == "release.json" else record
    Path(path).write_text(Path(path).read_text().replace("}", ', "edited": true}', 1))
    problems, _ = verify_manifest(video["manifest"])
    assert [p.role for p in problems] == ["record"] and path in problems[0].path


def test_switching_to_features_only_withdraws_the_released_video(video):
    """A video released earlier, then processed with outputs.video false: the features zip is released and the
    video, which the new manifest no longer vouches for, is withdrawn."""
    write_json(video["verdict"], {**json.loads(Path(video["verdict"]).read_text()), "verdict": "pass", "flags": 0})
    assert run_release(video, trusted=[])["status"] == "released"
    assert Path("results/release/v.deid.mp4").is_file()
    bundle = Path("results/v/v.deid.features.zip")
    bundle.write_bytes(b"features zip")
    write_json(video["decision"], decide("v", str(bundle), None, None, []))
    m = build_manifest(video_id="v", video="in.mp4", probe_json="probe.json", stage_audits=[], model_audits=[],
                       outputs=[str(bundle)], output_check="check.json", records=[video["decision"], "probe.json"],
                       config={"outputs": {"video": False}})
    record_manifest(video["manifest"], m)
    record = publish("v", str(bundle), video["decision"], video["manifest"], video["release"])
    assert record["status"] == "released" and json.loads(Path(video["decision"]).read_text())["verdict"] == \
        "not_applicable"
    assert sorted(p.name for p in Path("results/release").iterdir()) == ["v.deid.features.zip"]
