"""The release gate: fail closed, and released only after the audit record exists.

Two steps. ``decide`` (before the manifest) records whether a de-identified file may leave the lab: only when
its residual verification passed, or when a reviewer approved this very file (bound to its sha256), or each
of its open review items, with a signature by a trusted key; a rejection outranks a passing verification. The
decision (``release.json``) is hashed in the manifest. ``publish`` (after the manifest) checks the manifest
(its files' hashes, and its signature when manifests are signed) and that the decision and the file are the
ones it lists, and only then links the file into ``results/release/``, appending the release to the run log.
Anything else withdraws an earlier released copy.
"""

from __future__ import annotations

import csv
import os
import shutil
from pathlib import Path
from typing import Any

from btb.audit.chain import append_entry, check_chain, read_entries
from btb.audit.hashing import sha256_file
from btb.audit.io import atomic_output, read_json, utc_now
from btb.audit.manifest import audit_log_path
from btb.audit.signing import public_key_from_pem, record_signer
from btb.errors import BTBError


def _approval(decisions: list[dict[str, Any]], digest: str, trusted: list[str]) -> tuple[dict | None, str]:
    """The latest whole-file decision that counts, and a note on any that did not. A rejection stands for every
    later version of the file too (re-blurring after a rejection does not undo it) until a later approval of
    the file with sha256 ``digest``; an approval counts only for that very file and only when signed by one of
    the ``trusted`` public keys (PEM)."""
    keys = [public_key_from_pem(pem) for pem in trusted]
    ignored = ""
    for d in reversed(decisions):
        if d.get("decision") == "reject":
            return d, ignored
        if d.get("output_sha256") != digest or d.get("decision") != "approve":
            continue
        signer = record_signer(d, keys)
        if signer is not None:
            return {**d, "signed_by": signer}, ignored
        ignored = ignored or (f"an approval by {d.get('reviewer')!r} is not signed by a trusted reviewer key and "
                              "does not count")
    return None, ignored


def _item_approvals(decisions: list[dict[str, Any]], digest: str, trusted: list[str],
                    items: dict[int, dict[str, Any]]) -> tuple[dict[int, dict], str]:
    """Review item -> the signed approval (by a ``trusted`` key) of that item of the file ``digest``, counted
    only while the item so numbered in ``items`` (the current review items) is the item approved: the same
    frames and box (numbers are given afresh whenever verification runs)."""
    from btb.release.review import is_render_item, item_identity

    keys = [public_key_from_pem(pem) for pem in trusted]
    approved: dict[int, dict] = {}
    ignored = ""
    for d in decisions:
        if d.get("output_sha256") != digest or d.get("decision") != "approve_item":
            continue
        row = items.get(int(d["item"]))
        if row is None or d.get("item_identity") != item_identity(row) or is_render_item(row):
            continue  # another item now, or one no approval can release
        signer = record_signer(d, keys)
        if signer is None:
            ignored = ignored or (f"an item approval by {d.get('reviewer')!r} is not signed by a trusted reviewer "
                                  "key and does not count")
            continue
        approved[int(d["item"])] = {**d, "signed_by": signer}
    return approved, ignored


def _open_items(review_items: str | None) -> dict[int, dict[str, Any]]:
    if not review_items or not Path(review_items).is_file():
        return {}
    with open(review_items, newline="") as fh:
        return {int(r["item"]): r for r in csv.DictReader(fh, delimiter="\t") if r["status"] == "open"}


def decide(video_id: str, deliverable: str, verdict_json: str | None, review_log: str | None,
           trusted: list[str], review_items: str | None = None, manual: str | None = None) -> dict[str, Any]:
    """The release decision for one de-identified file (``release.json``); nothing is released here.

    ``trusted``: PEM public keys whose signatures make an approval count (reviewers' keys, and the run's
    signing key). ``verdict_json`` None: the deliverable is the features bundle (``outputs.video`` false), which
    no face detector can verify and which holds no pixel: released unless rejected. ``review_items``: the
    verification's item table; a file whose every open item a trusted
    reviewer approved is released like an approved file. ``manual``: the reviewers' manual-regions file, which
    must be the one the review log last recorded. A tampered review log is an error: no decision can be made."""
    from btb.release.manual import check_against_log
    from btb.release.review import is_render_item

    # no verification: the deliverable is the features (outputs.video false), positions and angles, no pixels
    verdict = read_json(verdict_json) if verdict_json else {"verdict": "not_applicable", "flags": 0,
                                                             "output_sha256": None}
    digest = sha256_file(deliverable)
    decisions: list[dict[str, Any]] = []
    if review_log and Path(review_log).is_file():
        problems = check_chain(review_log)
        if problems:
            raise BTBError("; ".join(problems))
        decisions = read_entries(review_log)
    check_against_log(manual, decisions)
    decision, ignored = _approval(decisions, digest, trusted)
    open_rows = _open_items(review_items)
    open_items = sorted(open_rows)
    faults = [i for i in open_items if is_render_item(open_rows[i])]  # the file is not what its regions say
    item_approvals, ignored_items = _item_approvals(decisions, digest, trusted, open_rows)
    ignored = ignored or ignored_items
    if decision and decision["decision"] == "reject":
        status, why = "rejected", f"rejected by {decision['reviewer']}: {decision['reason']}"
    elif not verdict_json:
        status, why = "released", ("features only (outputs.video false): face positions, angles and counts, no "
                                   "pixel of the input")
    elif verdict.get("output_sha256") != digest:
        status, why = "needs_review", "the verification on record is for another version of this file"
    elif verdict["verdict"] == "pass":
        status, why = "released", "residual verification passed"
    elif faults:
        status, why = "needs_review", (f"the file does not show the blur its regions say (render item(s) "
                                       f"{', '.join(map(str, faults))}): reject it or run it again; no approval "
                                       "releases it")
    elif decision and decision["decision"] == "approve":
        status, why = "released", f"approved by {decision['reviewer']}: {decision['reason']}"
    elif open_items and all(i in item_approvals for i in open_items):
        names = sorted({item_approvals[i]["reviewer"] for i in open_items})
        status, why = "released", f"all {len(open_items)} open review item(s) approved by {', '.join(names)}"
    else:
        n_items = verdict.get("items", verdict["flags"])
        status, why = "needs_review", (f"{n_items} open review item(s) from {verdict['flags']} residual flag(s) "
                                       f"in {verdict['frames_flagged']} frame(s)")
        done = [i for i in open_items if i in item_approvals]
        if done:
            why += f"; {len(done)} of {len(open_items)} approved"
    if ignored and status == "needs_review":
        why += f"; {ignored}"
    return {"video_id": video_id, "status": status, "why": why, "verdict": verdict["verdict"],
            "flags": verdict["flags"], "output": deliverable, "output_sha256": digest, "decision": decision,
            "items_approved": {str(i): item_approvals[i]["reviewer"] for i in open_items if i in item_approvals},
            "verification_file": verdict_json, "decided_utc": utc_now()}


def withdraw(release_dir: str | Path, deliverable: str | Path) -> None:
    (Path(release_dir) / Path(deliverable).name).unlink(missing_ok=True)


def publish(video_id: str, deliverable: str, release_json: str, manifest: str, release_dir: str,
            public_pem: str | None = None) -> dict[str, Any]:
    """Release the deliverable if its decision says so and the manifest vouches for both (every file it lists
    re-hashed; its signature by ``public_pem`` when given); return the publication record. Fails closed: any
    problem withdraws an earlier released copy before the error propagates."""
    from btb.audit.verify import verify_manifest

    target = Path(release_dir) / Path(deliverable).name
    try:
        key = public_key_from_pem(public_pem) if public_pem else None
        problems, _ = verify_manifest(manifest, base=Path.cwd(), public_key=key)
        if problems:
            raise BTBError(f"{manifest} does not verify, nothing is released: " + "; ".join(map(str, problems)))
        listed = {f["path"]: f["sha256"] for f in read_json(manifest)["files"]}
        for path in (deliverable, release_json):
            if listed.get(path) != sha256_file(path):
                raise BTBError(f"{manifest} does not list {path} as it is now; nothing is released")
        state = read_json(release_json)
        digest = sha256_file(deliverable)
        if state["output_sha256"] != digest:
            raise BTBError(f"{release_json} decides on another version of {deliverable}")
    except Exception:
        target.unlink(missing_ok=True)
        raise
    released = state["status"] == "released"
    # another kind of deliverable released earlier for this video (its video before outputs.video was set to
    # false, or the reverse) is not what this manifest vouches for: withdrawn
    for stale in Path(release_dir).glob(f"{video_id}.deid.*"):
        if stale.name != target.name:
            stale.unlink(missing_ok=True)
    if released:
        with atomic_output(target) as tmp:
            try:
                os.link(deliverable, tmp)
            except OSError:
                shutil.copyfile(deliverable, tmp)
    else:
        target.unlink(missing_ok=True)
    record = {"video_id": video_id, "status": state["status"], "released_path": str(target) if released else None,
              "output": deliverable, "output_sha256": digest, "manifest": manifest,
              "manifest_sha256": sha256_file(manifest), "signature_checked": key is not None,
              "time_utc": utc_now()}
    if released:
        append_entry(audit_log_path(manifest), {"event": "release", "time_utc": record["time_utc"],
                                                "video_id": video_id, "released_path": record["released_path"],
                                                "output_sha256": digest,
                                                "manifest_sha256": record["manifest_sha256"]})
    return record


def released_files(results: str | Path) -> dict[str, Path]:
    """The files in ``results/release/`` by name."""
    folder = Path(results) / "release"
    return {p.name: p for p in sorted(folder.iterdir()) if p.is_file() and not p.name.startswith(".")} \
        if folder.is_dir() else {}
