"""The reviewer's decisions.

A reviewer approves or rejects the current de-identified file of a video held by the release gate
(``btb.release.gate``); each decision is bound to the file's sha256 and appended to
``results/<id>/review.jsonl``, a hash-chained log (``btb.audit.chain``): an edited or deleted entry is detected.
"""

from __future__ import annotations

import getpass
import json
from pathlib import Path
from typing import Any

from btb.audit.chain import append_entry
from btb.audit.hashing import sha256_file
from btb.audit.io import utc_now, write_json
from btb.errors import BTBError
from btb.release.gate import release_state

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


def pending(results: str | Path) -> list[dict[str, Any]]:
    """Release states of every video under ``results`` (those not released first)."""
    states = [json.loads(p.read_text()) for p in sorted(Path(results).glob("*/release.json"))]
    return sorted(states, key=lambda s: (s["status"] == "released", s["video_id"]))
