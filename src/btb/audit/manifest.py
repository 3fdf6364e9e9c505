"""The audit manifest of one video: what went in and came out, how, with which software, and by whom.

A manifest lists every file that went into or came out of a video's de-identification with its sha256 and
size (``files``: role input / model / intermediate / output), the resolved configuration, every stage's
parameters, times and counts, software versions, the workflow's git commit, user and host. Recording one
signs it (when a key is set) and appends it to the hash-chained run log; ``btb.audit.verify`` checks it.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from btb.audit.chain import append_entry
from btb.audit.hashing import file_record, sha256_file, shown_path
from btb.audit.io import json_bytes, read_json, utc_now, write_atomic
from btb.audit.records import environment, git_state

MANIFEST_VERSION = 1


def config_sha256(config: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True).encode()).hexdigest()


def build_manifest(
    *,
    video_id: str,
    video: str,
    probe_json: str,
    stage_audits: list[str],
    model_audits: list[str],
    outputs: list[str],
    output_check: str,
    config: dict[str, Any],
    records: list[str] | None = None,
    workdir: str | Path = ".",
    repo: str | Path | None = None,
) -> dict[str, Any]:
    """The manifest of one video; ``repo`` is the workflow's folder (its git commit is recorded).

    ``records``: files the manifest vouches for beside the outputs (role ``record``: the stage audit records, the
    release decision, the QA report, the review log), re-hashed by ``verify`` like the outputs."""
    # keyed by the audit record's file name: one entry per stage job (e.g. detect_retinaface_all)
    stages = {Path(p).stem: read_json(p) for p in stage_audits}
    model_stages = [read_json(p) for p in model_audits]
    files: list[dict[str, Any]] = [{**file_record(video), "role": "input"}]
    for rec in model_stages:
        files += [{**f, "role": "model", "stage": rec["stage"]} for f in rec["outputs"]]
    final = set(outputs)
    for name, rec in stages.items():
        for f in rec["outputs"]:
            if f["path"] not in final:
                files.append({**f, "role": "intermediate", "stage": name})
    files += [{**file_record(p), "role": "output"} for p in outputs]
    files += [{**file_record(p), "role": "record"} for p in records or [] if p not in final]
    check = read_json(output_check)
    starts = [r["started_utc"] for r in stages.values()]
    ends = [r["ended_utc"] for r in stages.values() if r.get("ended_utc")]
    counts: dict[str, Any] = {}
    for name, rec in stages.items():
        for k, v in rec.get("counts", {}).items():
            counts[f"{name}.{k}"] = v
    return {
        "manifest_version": MANIFEST_VERSION,
        "video_id": video_id,
        "created_utc": utc_now(),
        "started_utc": min(starts) if starts else None,
        "ended_utc": max(ends) if ends else None,
        "workdir": str(Path(workdir).resolve()),
        "workflow": {**git_state(repo if repo is not None else workdir), "path": str(repo or "")},
        "environment": environment(),
        "config": config,
        "config_sha256": config_sha256(config),
        "input": {"path": shown_path(video), "probe": read_json(probe_json)},
        "models": [{"stage": r["stage"], **r["params"], "notes": r.get("notes", {}), "files": r["outputs"]}
                   for r in model_stages],
        "stages": stages,
        "counts": counts,
        "output_check": check,
        "files": files,
    }


def audit_log_path(manifest_path: str | Path) -> Path:
    """The run audit log: ``results/audit_log.jsonl`` for ``results/<id>/manifest.json``."""
    return Path(manifest_path).resolve().parent.parent / "audit_log.jsonl"


def record_manifest(out: str | Path, manifest: dict[str, Any], signing_key: str | Path | None = None) -> None:
    """Write a manifest (signed when ``signing_key`` names an Ed25519 private key) and append its sha256 to the
    hash-chained run audit log.

    With a key, the manifest records which public key signs it (``signature``) and ``<manifest>.sig`` holds the
    detached signature of its exact bytes. The key is loaded before anything is written, so a bad key fails the
    job with nothing half-done; the key itself is never written anywhere.
    """
    from btb.audit.signing import ALGORITHM, load_private_key, public_key_sha256, sign_bytes, signature_path

    out = Path(out)
    key = load_private_key(signing_key) if signing_key else None
    sig_path = signature_path(out)
    if key is not None:
        manifest = {**manifest, "signature": {"algorithm": ALGORITHM, "file": sig_path.name,
                                              "public_key_sha256": public_key_sha256(key)}}
    content = json_bytes(manifest)
    if key is not None:
        write_atomic(sig_path, sign_bytes(content, key))
    else:
        sig_path.unlink(missing_ok=True)  # a signature of an earlier manifest would not match this one
    write_atomic(out, content)
    outputs = [f for f in manifest["files"] if f["role"] == "output"]
    append_entry(audit_log_path(out), {
        "event": "manifest", "time_utc": manifest["created_utc"], "video_id": manifest["video_id"],
        "manifest": str(out),
        "manifest_sha256": sha256_file(out), "output_sha256": outputs[0]["sha256"] if outputs else None,
        "config_sha256": manifest["config_sha256"], "workflow_commit": manifest["workflow"].get("commit"),
        "signed_by": manifest["signature"]["public_key_sha256"] if key is not None else None,
    })
