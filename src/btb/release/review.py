"""The reviewer's decisions.

A reviewer approves or rejects the current de-identified file of a video held by the release gate
(``btb.release.gate``), approves one review item of it, or adds a blur region (``btb.release.manual``); each
decision is bound to the file's sha256, signed with the reviewer's key (an approval must be), and appended to
``results/<id>/review.jsonl``, a hash-chained log (``btb.audit.chain``): an edited or deleted entry is detected.
"""

from __future__ import annotations

import csv
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


def release_state(results: str | Path, video_id: str) -> tuple[dict[str, Any], Path]:
    """The video's release state (``release.json``) and its de-identified file's path."""
    from btb.samples import check_video_id

    if problem := check_video_id(video_id):
        raise BTBError(problem)
    state_file = Path(results) / video_id / "release.json"
    if not state_file.is_file():
        raise BTBError(f"{state_file}: no release state for {video_id!r}; run the workflow first")
    state = json.loads(state_file.read_text())
    # paths in the state are relative to the workflow's working directory, the parent of results/
    output = Path(state["output"])
    return state, output if output.is_absolute() else Path(results).resolve().parent / output


def _append(results: str | Path, video_id: str, entry: dict[str, Any], key: str | Path | None) -> dict[str, Any]:
    """Bind ``entry`` to the video's current de-identified file, sign it with ``key`` and append it to the log."""
    from btb.audit.signing import load_private_key, sign_record

    state, output = release_state(results, video_id)
    entry = {"time_utc": utc_now(), "video_id": video_id, **entry, "account": getpass.getuser(),
             "output": state["output"], "output_sha256": sha256_file(output),
             "verification": state.get("verdict")}
    if key:
        entry = sign_record(entry, load_private_key(key))
    return append_entry(decisions_path(results, video_id), entry)


def _need(reviewer: str, reason: str) -> None:
    if not reviewer.strip():
        raise BTBError("a decision needs the reviewer's name")
    if not reason.strip():
        raise BTBError("a decision needs a reason")


def record_decision(results: str | Path, video_id: str, decision: str, reviewer: str, reason: str,
                    key: str | Path | None = None, item: int | None = None) -> dict[str, Any]:
    """Append a decision about the current de-identified file of ``video_id`` to its review log; return the
    entry. ``item``: approve that one review item (``verification/review_items.tsv``) rather than the whole
    file; the file is released once every open item is approved. An approval must be signed (``key``: the
    reviewer's Ed25519 private key, PEM); it counts only when the key is one the run trusts
    (``audit.reviewer_keys``, or the run's signing key). Nothing is released here: the next run of the
    workflow decides again, writes the manifest, and only then releases."""
    if decision not in DECISIONS:
        raise BTBError(f"decision must be one of {DECISIONS}")
    _need(reviewer, reason)
    if decision == "approve" and not key:
        raise BTBError("an approval must be signed: give --key with your reviewer key (btb keygen makes one; its "
                       "public key goes in audit.reviewer_keys), or set BTB_REVIEWER_KEY")
    if item is not None and decision != "approve":
        raise BTBError("only an approval can name an item: a rejection is of the whole video")
    release_state(results, video_id)  # a valid id, decided on by the workflow
    entry: dict[str, Any] = {"decision": decision if item is None else "approve_item"}
    rows = {int(r["item"]): r for r in read_items(results, video_id) if r["status"] == "open"}
    faults = sorted(i for i, r in rows.items() if is_render_item(r) and (item is None or i == int(item)))
    if decision == "approve" and faults:
        raise BTBError(f"{video_id}: review item(s) {', '.join(map(str, faults))} are render items: the file does "
                       "not show the blur its regions say, and no approval can release it; reject the video or "
                       "run it again")
    if item is not None:
        if int(item) not in rows:
            raise BTBError(f"{video_id} has no open review item {item} (open: {sorted(rows) or 'none'})")
        entry["item"] = int(item)
        # what the item was: an approval counts only while the item numbered so is still this one
        entry["item_identity"] = item_identity(rows[int(item)])
    return _append(results, video_id, {**entry, "reviewer": reviewer, "reason": reason}, key)


def record_region(results: str | Path, video_id: str, region: dict[str, Any], reviewer: str, reason: str,
                  key: str | Path | None = None, item: int | None = None) -> dict[str, Any]:
    """Add a blur region (``btb.release.manual``) over a frame range of the video and record it in the review
    log (signed with ``key`` when given); the next run of the workflow blurs it, re-encodes and re-verifies."""
    import fcntl

    from btb.audit.signing import load_private_key
    from btb.release.manual import add_region, manual_regions_path

    _need(reviewer, reason)
    release_state(results, video_id)
    if key:
        load_private_key(key)  # a bad key fails here, before anything is written
    probe = json.loads((Path(results) / video_id / "probe.json").read_text())
    n_frames = frame_count(results, video_id)
    path = manual_regions_path(results, video_id)
    # one addition at a time (several reviewer pages may run): the file and its log entry change together
    with open(path.with_name(f".{path.name}.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        before = path.read_bytes() if path.is_file() else None
        stored, digest = add_region(results, video_id, region, width=int(probe["width"]),
                                    height=int(probe["height"]), n_frames=n_frames, reviewer=reviewer,
                                    reason=reason, item=item)
        try:
            return _append(results, video_id, {"decision": "add_region", "reviewer": reviewer, "reason": reason,
                                               "item": item, "region": stored, "manual_regions_sha256": digest},
                           key)
        except BaseException:  # not recorded: the file goes back to what the log records
            if before is None:
                path.unlink(missing_ok=True)
            else:
                from btb.audit.io import write_atomic

                write_atomic(path, before)
            raise


ITEM_IDENTITY = ("first_frame", "last_frame", "best_frame", "x", "y", "w", "h")


RENDER = "render"  # btb.release.render.RENDER, named here because the release jobs import no OpenCV


def is_render_item(row: dict[str, Any]) -> bool:
    """Whether a review-item row holds a ``render`` flag: the file does not show the blur its regions say (a
    fault of the pipeline or the encoder). No approval releases such a file; it is rejected or run again."""
    return RENDER in str(row.get("detectors", "")).split(",")


def item_identity(row: dict[str, Any]) -> dict[str, Any]:
    """The fields that pin down which item a review-item row is (its frames and its strongest box)."""
    return {k: round(float(row[k]), 1) for k in ITEM_IDENTITY}


def frame_count(results: str | Path, video_id: str) -> int:
    path = Path(results) / video_id / "frames.tsv"
    with open(path) as fh:
        return max(0, sum(1 for _ in fh) - 1)


def read_items(results: str | Path, video_id: str) -> list[dict[str, str]]:
    """The video's review items (``verification/review_items.tsv``), as text fields."""
    path = Path(results) / video_id / "verification" / "review_items.tsv"
    if not path.is_file():
        return []
    with open(path, newline="") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


def open_items(results: str | Path, video_id: str) -> set[int]:
    return {int(r["item"]) for r in read_items(results, video_id) if r["status"] == "open"}


def pending(results: str | Path) -> list[dict[str, Any]]:
    """Release states of every video under ``results`` (those not released first)."""
    states = [json.loads(p.read_text()) for p in sorted(Path(results).glob("*/release.json"))]
    return sorted(states, key=lambda s: (s["status"] == "released", s["video_id"]))
