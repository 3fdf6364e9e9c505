"""The release gate and the reviewer's decisions.

A de-identified file is *released* (linked into ``results/release/``) only when its residual verification
passed, or when a reviewer approved this very file (decisions are bound to the file's sha256). Otherwise it
stays where it was written, ``needs_review`` (or ``rejected``). Decisions are appended to
``results/<id>/review.jsonl``; each entry carries the sha256 of the previous line, so an edited or deleted
entry breaks the chain (``check_chain``).
"""

from __future__ import annotations

import getpass
import hashlib
import json
import os
from pathlib import Path
from typing import Any

from btb.audit import utc_now, write_json
from btb.errors import BTBError
from btb.hashing import sha256_file

DECISIONS = ("approve", "reject")


def decisions_path(results: str | Path, video_id: str) -> Path:
    return Path(results) / video_id / "review.jsonl"


def read_decisions(path: str | Path) -> list[dict[str, Any]]:
    p = Path(path)
    if not p.is_file():
        return []
    return [json.loads(line) for line in p.read_text(encoding="utf-8").splitlines() if line.strip()]


def _head_path(log: Path) -> Path:
    return log.with_name("review.head")


def check_chain(path: str | Path) -> list[str]:
    """Problems with the decision log (empty when intact): every entry must carry the hash of the one before
    it, and the last entry and the count must match ``review.head`` (so removing the newest entries is
    detected too)."""
    problems = []
    prev = None
    p = Path(path)
    lines = p.read_text(encoding="utf-8").splitlines() if p.is_file() else []
    for n, line in enumerate(lines, start=1):
        entry = json.loads(line)
        if entry.get("prev_sha256") != prev:
            problems.append(f"{p}: entry {n} does not follow entry {n - 1} (edited or removed entry)")
        prev = hashlib.sha256(line.encode()).hexdigest()
    head = _head_path(p)
    if head.is_file():
        recorded = json.loads(head.read_text())
        if recorded != {"entries": len(lines), "last_sha256": prev}:
            problems.append(f"{p}: {len(lines)} entries end in {prev}, but review.head records "
                            f"{recorded['entries']} ending in {recorded['last_sha256']} (entries removed or edited)")
    elif lines:
        problems.append(f"{p}: review.head is missing")
    return problems


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
    problems = check_chain(log)
    if problems:
        raise BTBError("; ".join(problems))
    lines = log.read_text(encoding="utf-8").splitlines() if log.is_file() else []
    entry = {
        "time_utc": utc_now(), "video_id": video_id, "decision": decision, "reviewer": reviewer,
        "reason": reason, "account": getpass.getuser(), "output": state["output"],
        "output_sha256": sha256_file(here(state["output"])),
        "verification": state.get("verdict"),
        "prev_sha256": hashlib.sha256(lines[-1].encode()).hexdigest() if lines else None,
    }
    line = json.dumps(entry, sort_keys=True)
    with open(log, "a", encoding="utf-8") as fh:
        fh.write(line + "\n")
        fh.flush()
        os.fsync(fh.fileno())
    write_json(_head_path(log), {"entries": len(lines) + 1, "last_sha256": hashlib.sha256(line.encode()).hexdigest()})
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
    """Decide and apply the release of one de-identified file; return the state to record."""
    verdict = json.loads(Path(verdict_json).read_text())
    digest = sha256_file(deliverable)
    log = Path(deliverable).parent / "review.jsonl"
    if check_chain(log):
        raise BTBError("; ".join(check_chain(log)))
    decision = next((d for d in reversed(read_decisions(log)) if d["output_sha256"] == digest), None)
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
    target = Path(release_dir) / Path(deliverable).name
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
