"""``btb verify``: a manifest's files re-hashed, its signature checked, and its entry in the run log.

``verify_manifest`` re-hashes every listed input, model and output file (intermediates are deleted by design;
their hashes are kept as a record) and reports each mismatch.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from btb.audit.chain import check_chain, read_entries
from btb.audit.hashing import sha256_file
from btb.audit.io import read_json
from btb.audit.manifest import audit_log_path

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

CHECKED_ROLES = ("input", "model", "output", "record")


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
        m = read_json(manifest_path)
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        return problems + [Mismatch(str(manifest_path), "manifest", f"cannot be read as JSON ({exc})")], 0
    if base is None:
        recorded = Path(m.get("workdir", "."))
        base = recorded if recorded.is_dir() else Path.cwd()
    base = Path(base)
    checked = 0
    for f in m.get("files", []):
        if f["role"] not in CHECKED_ROLES or f.get("path_withheld"):
            continue  # a withheld input path (opaque ids): its hash is recorded, but there is no file to find
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
    from btb.audit.signing import public_key_sha256, signature_path, verify_signature

    problems = [Mismatch(str(signature_path(manifest_path)), "signature", p)
                for p in verify_signature(manifest_path, public_key)]
    if problems:
        try:
            recorded = (read_json(manifest_path).get("signature") or {}).get("public_key_sha256")
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            recorded = None
        if recorded and recorded != public_key_sha256(public_key):
            problems.append(Mismatch(str(manifest_path), "signature",
                                     f"the manifest says it is signed by key sha256 {recorded}, not the given key"))
    return problems


def check_audit_log(manifest_path: str | Path, video_id: str) -> list[Mismatch]:
    """The run audit log beside ``results/`` must be intact, and its latest entry for this video must name
    this manifest's exact bytes (so an edited manifest, or an edited or deleted log entry, is detected)."""
    log = audit_log_path(manifest_path)
    if not log.is_file():
        return [Mismatch(str(log), "audit log", "missing: the manifest cannot be checked against the run log")]
    problems = [Mismatch(str(log), "audit log", p) for p in check_chain(log)]
    # manifest entries (release events name the manifest too, but only the manifest entries vouch for it)
    entries = [e for e in read_entries(log)
               if e.get("video_id") == video_id and e.get("event", "manifest") == "manifest"]
    digest = sha256_file(manifest_path)
    if not entries:
        problems.append(Mismatch(str(manifest_path), "manifest", "no entry in the run audit log"))
    elif entries[-1]["manifest_sha256"] != digest:
        problems.append(Mismatch(str(manifest_path), "manifest",
                                 f"sha256 {digest} != the audit log's latest entry {entries[-1]['manifest_sha256']}"))
    return problems


def verify_release(results: str | Path, public_key: Ed25519PublicKey | None = None) -> tuple[list[Mismatch], int]:
    """Every file in ``results/release/`` must be the output of a manifest that verifies (signed by
    ``public_key`` when given), with a release decision of ``released`` hashed in that manifest, and its
    release in the run log; anything else there is a problem naming the file. Returns (problems, files
    checked)."""
    from btb.audit.chain import read_entries as log_entries
    from btb.audit.io import read_json

    results = Path(results)
    folder = results / "release"
    files = sorted(p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")) \
        if folder.is_dir() else []
    log = results / "audit_log.jsonl"
    released = {(e.get("video_id"), e.get("output_sha256"), e.get("manifest_sha256"))
                for e in (log_entries(log) if log.is_file() else []) if e.get("event") == "release"}
    problems: list[Mismatch] = []
    for f in files:
        vid = f.name.partition(".deid.")[0]
        manifest = results / vid / "manifest.json"
        if not f.name.startswith(f"{vid}.deid.") or not manifest.is_file():
            problems.append(Mismatch(str(f), "release", "no manifest of this run lists this file"))
            continue
        m_problems, _ = verify_manifest(manifest, results.parent, public_key)
        if m_problems:
            problems.append(Mismatch(str(f), "release", f"its manifest {manifest} does not verify ("
                                     + "; ".join(map(str, m_problems[:3])) + ")"))
            continue
        m = read_json(manifest)
        digest = sha256_file(f)
        outputs = {e["path"]: e["sha256"] for e in m["files"] if e["role"] == "output"}
        decision = next((e for e in m["files"] if e["role"] == "record" and Path(e["path"]).name == "release.json"),
                        None)
        if digest not in outputs.values():
            problems.append(Mismatch(str(f), "release", f"sha256 {digest} is not an output of {manifest}"))
        elif decision is None:
            problems.append(Mismatch(str(f), "release", f"{manifest} holds no release decision"))
        elif read_json(results.parent / decision["path"]).get("status") != "released":
            problems.append(Mismatch(str(f), "release", "the release decision its manifest vouches for does not "
                                                        "release it (needs review or rejected)"))
        elif (vid, digest, sha256_file(manifest)) not in released:
            problems.append(Mismatch(str(f), "release", "the run log records no release of this file"))
    return problems, len(files)

