"""The release gate and the reviewer's decisions.

A de-identified file is *released* (linked into ``results/release/``) only when its residual verification
passed, or when a reviewer approved this very file (decisions are bound to the file's sha256). Otherwise it
stays where it was written, ``needs_review`` (or ``rejected``). Decisions are appended to
``results/<id>/review.jsonl``, a hash-chained log (``btb.chain``): an edited or deleted entry is detected.
"""

from __future__ import annotations

import getpass
import json
import os
from pathlib import Path
from typing import Any

from btb.audit import utc_now, write_json
from btb.chain import append_entry, check_chain, read_entries
from btb.errors import BTBError
from btb.hashing import sha256_file

DECISIONS = ("approve", "reject")


def decisions_path(results: str | Path, video_id: str) -> Path:
    return Path(results) / video_id / "review.jsonl"


def record_decision(results: str | Path, video_id: str, decision: str, reviewer: str, reason: str) -> dict:
    """Append a decision about the current de-identified file of ``video_id``; return the new release state."""
    if decision not in DECISIONS:
        raise BTBError(f"decision must be one of {DECISIONS}")
    if not reason.strip():
        raise BTBError("a decision needs a reason")
    state_file = Path(results) / video_id / "release.json"
    if not state_file.is_file():
        raise BTBError(f"{state_file}: no release state for {video_id!r}; run the workflow first")
    state = json.loads(state_file.read_text())
    # paths in the state are relative to the workflow's working directory, the parent of results/
    base = Path(results).resolve().parent

    def here(p: str) -> str:
        return p if Path(p).is_absolute() else str(base / p)

    log = decisions_path(results, video_id)
    append_entry(log, {
        "time_utc": utc_now(), "video_id": video_id, "decision": decision, "reviewer": reviewer,
        "reason": reason, "account": getpass.getuser(), "output": state["output"],
        "output_sha256": sha256_file(here(state["output"])), "verification": state.get("verdict"),
    })
    new_state = release_state(video_id, here(state["output"]), here(state["verification_file"]),
                              here(state["release_dir"]))
    # keep the recorded paths relative, as the workflow wrote them
    for key in ("output", "verification_file", "release_dir"):
        new_state[key] = state[key]
    if new_state["released_path"]:
        new_state["released_path"] = str(Path(state["release_dir"]) / Path(state["output"]).name)
    write_json(state_file, new_state)
    return new_state


def release_state(video_id: str, deliverable: str, verdict_json: str, release_dir: str) -> dict[str, Any]:
    """Decide and apply the release of one de-identified file; return the state to record.

    Fails closed: when no decision can be made (a tampered review log, an unreadable verdict), a copy released
    by an earlier run is withdrawn before the error propagates."""
    target = Path(release_dir) / Path(deliverable).name
    try:
        verdict = json.loads(Path(verdict_json).read_text())
        digest = sha256_file(deliverable)
        log = Path(deliverable).parent / "review.jsonl"
        problems = check_chain(log)
        if problems:
            raise BTBError("; ".join(problems))
        decision = next((d for d in reversed(read_entries(log)) if d["output_sha256"] == digest), None)
    except Exception:
        target.unlink(missing_ok=True)
        raise
    # a rejection always wins; a verdict counts only for the very file it checked
    if decision and decision["decision"] == "reject":
        status, why = "rejected", f"rejected by {decision['reviewer']}: {decision['reason']}"
    elif verdict.get("output_sha256") != digest:
        status, why = "needs_review", "the verification on record is for another version of this file"
    elif verdict["verdict"] == "pass":
        status, why = "released", "residual verification passed"
    elif decision and decision["decision"] == "approve":
        status, why = "released", f"approved by {decision['reviewer']}: {decision['reason']}"
    else:
        status, why = "needs_review", f"{verdict['flags']} residual flag(s) in {verdict['frames_flagged']} frame(s)"
    target.parent.mkdir(parents=True, exist_ok=True)
    if status == "released":
        tmp = target.with_name(f".{target.name}.part")
        tmp.unlink(missing_ok=True)
        try:
            os.link(deliverable, tmp)
        except OSError:
            import shutil

            shutil.copyfile(deliverable, tmp)
        os.replace(tmp, target)
    else:
        target.unlink(missing_ok=True)
    return {"video_id": video_id, "status": status, "why": why, "verdict": verdict["verdict"],
            "flags": verdict["flags"], "output": deliverable, "output_sha256": digest,
            "released_path": str(target) if status == "released" else None,
            "decision": decision, "verification_file": verdict_json, "release_dir": release_dir,
            "time_utc": utc_now()}


def pending(results: str | Path) -> list[dict[str, Any]]:
    """Release states of every video under ``results`` (those not released first)."""
    states = [json.loads(p.read_text()) for p in sorted(Path(results).glob("*/release.json"))]
    return sorted(states, key=lambda s: (s["status"] == "released", s["video_id"]))
