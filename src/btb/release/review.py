"""The reviewer's decisions.

A reviewer approves or rejects the current de-identified file of a video held by the release gate
(``btb.release.gate``); each decision is bound to the file's sha256, signed with the reviewer's key (an
approval must be), and appended to
``results/<id>/review.jsonl``, a hash-chained log (``btb.audit.chain``): an edited or deleted entry is detected.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

from btb.audit.chain import append_entry
from btb.audit.hashing import sha256_file
from btb.audit.io import utc_now
from btb.errors import BTBError

DECISIONS = ("approve", "reject")


def decisions_path(results: str | Path, video_id: str) -> Path:
    return Path(results) / video_id / "review.jsonl"


def record_decision(results: str | Path, video_id: str, decision: str, reviewer: str, reason: str,
                    key: str | Path | None = None) -> dict[str, Any]:
    """Append a decision about the current de-identified file of ``video_id`` to its review log; return the
    entry. An approval must be signed (``key``: the reviewer's Ed25519 private key, PEM); it counts only when the
    key is one the run trusts (``audit.reviewer_keys``, or the run's signing key). Nothing is released here:
    the next run of the workflow decides again, writes the manifest, and only then releases."""
    from btb.audit.signing import load_private_key, sign_record
    from btb.samples import check_video_id

    if problem := check_video_id(video_id):
        raise BTBError(problem)
    if decision not in DECISIONS:
        raise BTBError(f"decision must be one of {DECISIONS}")
    if not reason.strip():
        raise BTBError("a decision needs a reason")
    if decision == "approve" and not key:
        raise BTBError("an approval must be signed: give --key with your reviewer key (btb keygen makes one; its "
                       "public key goes in audit.reviewer_keys), or set BTB_REVIEWER_KEY")
    state_file = Path(results) / video_id / "release.json"
    if not state_file.is_file():
        raise BTBError(f"{state_file}: no release state for {video_id!r}; run the workflow first")
    state = json.loads(state_file.read_text())
    # paths in the state are relative to the workflow's working directory, the parent of results/
    output = Path(state["output"])
    output = output if output.is_absolute() else Path(results).resolve().parent / output
    entry = {"time_utc": utc_now(), "video_id": video_id, "decision": decision, "reviewer": reviewer,
             "reason": reason, "account": getpass.getuser(), "output": state["output"],
             "output_sha256": sha256_file(output), "verification": state.get("verdict")}
    if key:
        entry = sign_record(entry, load_private_key(key))
    return append_entry(decisions_path(results, video_id), entry)


def pending(results: str | Path) -> list[dict[str, Any]]:
    """Release states of every video under ``results`` (those not released first)."""
    states = [json.loads(p.read_text()) for p in sorted(Path(results).glob("*/release.json"))]
    return sorted(states, key=lambda s: (s["status"] == "released", s["video_id"]))
