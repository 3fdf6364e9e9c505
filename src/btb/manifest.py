"""The audit manifest of one video, the run-level summary, and ``verify``.

A manifest lists every file that went into or came out of a video's de-identification with its sha256 and
size (``files``: role input / model / intermediate / output), the resolved configuration, every stage's
parameters, times and counts, software versions, the workflow's git commit, user and host. ``verify``
re-hashes every listed file that should still exist (intermediates are deleted by design; their hashes
are kept as a record) and reports each mismatch.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from btb.audit import environment, git_state, utc_now, write_json, write_tsv
from btb.hashing import file_record, sha256_file

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

MANIFEST_VERSION = 1
CHECKED_ROLES = ("input", "model", "output")


def _load(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


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
    workdir: str | Path = ".",
    repo: str | Path | None = None,
) -> dict[str, Any]:
    """The manifest of one video; ``repo`` is the workflow's folder (its git commit is recorded)."""
    # keyed by the audit record's file name: one entry per stage job (e.g. detect_retinaface_all)
    stages = {Path(p).stem: _load(p) for p in stage_audits}
    model_stages = [_load(p) for p in model_audits]
    files: list[dict[str, Any]] = [{**file_record(video), "role": "input"}]
    for rec in model_stages:
        files += [{**f, "role": "model", "stage": rec["stage"]} for f in rec["outputs"]]
    final = set(outputs)
    for name, rec in stages.items():
        for f in rec["outputs"]:
            if f["path"] not in final:
                files.append({**f, "role": "intermediate", "stage": name})
    files += [{**file_record(p), "role": "output"} for p in outputs]
    check = _load(output_check)
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
        "input": {"path": video, "probe": _load(probe_json)},
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
    from btb.audit import json_bytes, write_atomic
    from btb.chain import append_entry
    from btb.signing import ALGORITHM, load_private_key, public_key_sha256, sign_bytes, signature_path

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
        "time_utc": manifest["created_utc"], "video_id": manifest["video_id"], "manifest": str(out),
        "manifest_sha256": sha256_file(out), "output_sha256": outputs[0]["sha256"] if outputs else None,
        "config_sha256": manifest["config_sha256"], "workflow_commit": manifest["workflow"].get("commit"),
        "signed_by": manifest["signature"]["public_key_sha256"] if key is not None else None,
    })


@dataclass(frozen=True)
class Mismatch:
    path: str
    role: str
    problem: str

    def __str__(self) -> str:
        return f"{self.role} {self.path}: {self.problem}"


def verify_manifest(manifest_path: str | Path, base: str | Path | None = None,
                    public_key: Ed25519PublicKey | None = None) -> tuple[list[Mismatch], int]:
    """Re-hash the manifest's input, model and output files; return (mismatches, files checked).

    Relative paths are resolved against ``base``, else the manifest's recorded working directory when it
    still exists, else the current directory. With ``public_key``, the manifest's detached signature must be
    present and verify under that key (an unsigned manifest is then a mismatch).
    """
    problems: list[Mismatch] = []
    if public_key is not None:
        problems += check_signature(manifest_path, public_key)
    try:
        m = _load(manifest_path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return problems + [Mismatch(str(manifest_path), "manifest", f"cannot be read as JSON ({exc})")], 0
    if base is None:
        recorded = Path(m.get("workdir", "."))
        base = recorded if recorded.is_dir() else Path.cwd()
    base = Path(base)
    checked = 0
    for f in m.get("files", []):
        if f["role"] not in CHECKED_ROLES:
            continue
        p = Path(f["path"])
        p = p if p.is_absolute() else base / p
        checked += 1
        if not p.is_file():
            problems.append(Mismatch(f["path"], f["role"], "missing"))
            continue
        size = p.stat().st_size
        if size != f["bytes"]:
            problems.append(Mismatch(f["path"], f["role"], f"size {size} != recorded {f['bytes']}"))
            continue
        digest = sha256_file(p)
        if digest != f["sha256"]:
            problems.append(Mismatch(f["path"], f["role"], f"sha256 {digest} != recorded {f['sha256']}"))
    problems += check_audit_log(manifest_path, m["video_id"])
    return problems, checked


def check_signature(manifest_path: str | Path, public_key: Ed25519PublicKey) -> list[Mismatch]:
    """The manifest's detached Ed25519 signature must exist and verify under ``public_key``."""
    from btb.signing import public_key_sha256, signature_path, verify_signature

    problems = [Mismatch(str(signature_path(manifest_path)), "signature", p)
                for p in verify_signature(manifest_path, public_key)]
    if problems:
        try:
            recorded = (_load(manifest_path).get("signature") or {}).get("public_key_sha256")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            recorded = None
        if recorded and recorded != public_key_sha256(public_key):
            problems.append(Mismatch(str(manifest_path), "signature",
                                     f"the manifest says it is signed by key sha256 {recorded}, not the given key"))
    return problems


def check_audit_log(manifest_path: str | Path, video_id: str) -> list[Mismatch]:
    """The run audit log beside ``results/`` must be intact, and its latest entry for this video must name
    this manifest's exact bytes (so an edited manifest, or an edited or deleted log entry, is detected)."""
    from btb.chain import check_chain, read_entries

    log = audit_log_path(manifest_path)
    if not log.is_file():
        return [Mismatch(str(log), "audit log", "missing: the manifest cannot be checked against the run log")]
    problems = [Mismatch(str(log), "audit log", p) for p in check_chain(log)]
    entries = [e for e in read_entries(log) if e.get("video_id") == video_id]
    digest = sha256_file(manifest_path)
    if not entries:
        problems.append(Mismatch(str(manifest_path), "manifest", "no entry in the run audit log"))
    elif entries[-1]["manifest_sha256"] != digest:
        problems.append(Mismatch(str(manifest_path), "manifest",
                                 f"sha256 {digest} != the audit log's latest entry {entries[-1]['manifest_sha256']}"))
    return problems


def _seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds from the first stage's start to the last stage's end (ISO-8601 UTC stamps)."""
    if not start or not end:
        return None
    from datetime import datetime

    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 2)


def build_summary(manifests: list[str], releases: list[str] | None = None) -> dict[str, Any]:
    rows = []
    states = {s["video_id"]: s for s in map(_load, releases or [])}
    for path in manifests:
        m = _load(path)
        state = states.get(m["video_id"], {})
        outputs = [f for f in m["files"] if f["role"] == "output"]
        video_out = outputs[0] if outputs else None  # the de-identified file is listed first
        rows.append({
            "video_id": m["video_id"],
            "status": "done" if m["output_check"]["passed"] else "check_failed",
            "frames": m["counts"].get("index_frames.frames"),
            "blur_regions": m["counts"].get("merge_regions.blur_regions"),
            "frames_with_region": m["counts"].get("merge_regions.frames_with_region"),
            "frames_without_region": m["counts"].get("merge_regions.frames_without_region"),
            "frames_to_second_detector": m["counts"].get("select_cascade_frames.frames_selected",
                                                         m["counts"].get("index_frames.frames")),
            "merge_mode": m["config"]["merge"]["mode"],
            "verdict": state.get("verdict"),
            "residual_flags": state.get("flags"),
            "release": state.get("status"),
            "started_utc": m["started_utc"],
            "ended_utc": m["ended_utc"],
            "wall_seconds": _seconds_between(m["started_utc"], m["ended_utc"]),
            "job_seconds": round(sum(s.get("seconds") or 0.0 for s in m["stages"].values()), 2),
            "detect_seconds": round(sum(s.get("seconds") or 0.0 for n, s in m["stages"].items()
                                        if n.startswith("detect_") and "of" in n.rpartition(".")[2]), 2),
            "output": video_out["path"] if video_out else None,
            "output_sha256": video_out["sha256"] if video_out else None,
            "manifest": path,
            "manifest_sha256": sha256_file(path),
            "manifest_signed_by": (m.get("signature") or {}).get("public_key_sha256"),
        })
    return {"created_utc": utc_now(), "videos": rows, "n_videos": len(rows),
            "n_done": sum(r["status"] == "done" for r in rows),
            "n_released": sum(r["release"] == "released" for r in rows),
            "n_needs_review": sum(r["release"] == "needs_review" for r in rows)}


def write_summary(manifests: list[str], out_json: str, out_tsv: str, releases: list[str] | None = None) -> None:
    import pandas as pd

    summary = build_summary(manifests, releases)
    write_json(out_json, summary)
    write_tsv(out_tsv, pd.DataFrame(summary["videos"]))
