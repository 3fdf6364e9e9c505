"""The release gate: fail closed.

A de-identified file is *released* (linked into ``results/release/``) only when its residual verification
passed, or when a reviewer approved this very file (decisions are bound to the file's sha256, ``btb.release.review``).
Otherwise it stays where it was written, ``needs_review`` (or ``rejected``).
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from btb.audit.chain import check_chain, read_entries
from btb.audit.hashing import sha256_file
from btb.audit.io import atomic_output, utc_now
from btb.errors import BTBError


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
        with atomic_output(target) as tmp:
            try:
                os.link(deliverable, tmp)
            except OSError:
                shutil.copyfile(deliverable, tmp)
    else:
        target.unlink(missing_ok=True)
    return {"video_id": video_id, "status": status, "why": why, "verdict": verdict["verdict"],
            "flags": verdict["flags"], "output": deliverable, "output_sha256": digest,
            "released_path": str(target) if status == "released" else None,
            "decision": decision, "verification_file": verdict_json, "release_dir": release_dir,
            "time_utc": utc_now()}
