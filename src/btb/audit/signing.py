"""Detached Ed25519 signatures over the exact bytes of a manifest.

The institution keeps an Ed25519 private key (PEM, PKCS#8, unencrypted, owner-only) outside the results;
the workflow reads it only to sign and never writes or logs it. Each ``manifest.json`` then gets
``manifest.json.sig``: the raw 64-byte Ed25519 signature of the file's bytes, the same format as
``openssl pkeyutl -sign -rawin``, so an auditor can check it with OpenSSL alone as well as with
``btb verify --key public.pem``.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
from pathlib import Path

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from btb.errors import InputError

ALGORITHM = "Ed25519"
SIGNATURE_BYTES = 64
ENV_KEY = "BTB_SIGNING_KEY"


def signature_path(manifest: str | Path) -> Path:
    """``manifest.json`` -> ``manifest.json.sig`` (beside it)."""
    p = Path(manifest)
    return p.with_name(f"{p.name}.sig")


def resolve_signing_key(configured: str | None) -> str | None:
    """The private key to sign with: ``$BTB_SIGNING_KEY`` if set, else the configured path, else None."""
    return os.environ.get(ENV_KEY) or configured or None


def _read_key_file(path: str | Path, what: str) -> bytes:
    p = Path(path)
    try:
        return p.read_bytes()
    except FileNotFoundError:
        raise InputError(p, f"{what} not found") from None
    except PermissionError:
        raise InputError(p, f"{what} cannot be read (permission denied)") from None
    except IsADirectoryError:
        raise InputError(p, f"{what} is a folder, not a PEM file") from None


def load_private_key(path: str | Path) -> Ed25519PrivateKey:
    """The Ed25519 private key in a PEM file; InputError naming the file (never its content) otherwise."""
    data = _read_key_file(path, "signing key")
    try:
        key = serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise InputError(path, "signing key is passphrase-protected; give an unencrypted PEM key kept "
                               "owner-only (chmod 600)") from None
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(path, "not a PEM private key (make one with 'btb keygen' or "
                               "'openssl genpkey -algorithm ed25519')") from None
    return _ed25519(key, Ed25519PrivateKey, path, "signing key")


def load_public_key(path: str | Path) -> Ed25519PublicKey:
    data = _read_key_file(path, "public key")
    try:
        key = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        raise InputError(path, "not a PEM public key (expected '-----BEGIN PUBLIC KEY-----'; a private key "
                               "is never needed to verify)") from None
    return _ed25519(key, Ed25519PublicKey, path, "public key")


def _ed25519(key: object, kind: type, path: str | Path, what: str):  # noqa: ANN202 (returns ``kind``)
    if not isinstance(key, kind):
        raise InputError(path, f"{what} is {type(key).__name__.removeprefix('_')}, not an Ed25519 key")
    return key


def public_key_sha256(key: Ed25519PublicKey | Ed25519PrivateKey) -> str:
    """sha256 of the public key's DER SubjectPublicKeyInfo (``openssl pkey -pubin -outform DER | sha256sum``)."""
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    der = pub.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(der).hexdigest()


def sign_bytes(data: bytes, key: Ed25519PrivateKey) -> bytes:
    return key.sign(data)


def verify_signature(manifest: str | Path, key: Ed25519PublicKey) -> list[str]:
    """Problems with ``manifest``'s detached signature (``signature_path``) under ``key``; empty when it verifies."""
    sig = signature_path(manifest)
    if not sig.is_file():
        return [f"signature missing: the manifest is not signed (expected a detached {ALGORITHM} "
                "signature beside it)"]
    signature = sig.read_bytes()
    if len(signature) != SIGNATURE_BYTES:
        return [f"not an {ALGORITHM} signature ({len(signature)} bytes, expected {SIGNATURE_BYTES})"]
    try:
        key.verify(signature, Path(manifest).read_bytes())
    except InvalidSignature:
        return [f"signature does not verify with the given public key (sha256 {public_key_sha256(key)}): "
                "the manifest was changed after signing, or it was signed with another key"]
    return []


def generate_keypair(private_out: str | Path, public_out: str | Path) -> str:
    """Write a new Ed25519 key pair (private key owner-only); refuse to overwrite. Returns the public key's sha256."""
    priv_path, pub_path = Path(private_out), Path(public_out)
    for p in (priv_path, pub_path):
        if p.exists():
            raise InputError(p, "already exists; not overwritten")
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                            serialization.NoEncryption())
    priv_path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(priv_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    pub_path.parent.mkdir(parents=True, exist_ok=True)
    pub_path.write_bytes(key.public_key().public_bytes(serialization.Encoding.PEM,
                                                       serialization.PublicFormat.SubjectPublicKeyInfo))
    return public_key_sha256(key)


def canonical_json(obj: object) -> bytes:
    """The bytes a signed record's signature covers: sorted keys, no spaces, UTF-8."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


UNSIGNED_FIELDS = ("signature", "prev_sha256")  # the signature itself, and the chain link added after signing


def sign_record(record: dict, key: Ed25519PrivateKey) -> dict:
    """``record`` with a ``signature`` (Ed25519 over its canonical JSON, without the unsigned fields)."""
    body = {k: v for k, v in record.items() if k not in UNSIGNED_FIELDS}
    return {**body, "signature": {"algorithm": ALGORITHM, "public_key_sha256": public_key_sha256(key),
                                  "value": base64.b64encode(key.sign(canonical_json(body))).decode()}}


def record_signer(record: dict, keys: list[Ed25519PublicKey]) -> str | None:
    """The ``public_key_sha256`` of the key among ``keys`` whose signature ``record`` carries, or None (unsigned,
    signed by another key, or changed after signing)."""
    sig = record.get("signature")
    if not isinstance(sig, dict) or sig.get("algorithm") != ALGORITHM:
        return None
    body = {k: v for k, v in record.items() if k not in UNSIGNED_FIELDS}
    try:
        value = base64.b64decode(sig.get("value", ""), validate=True)
    except (ValueError, TypeError):
        return None
    for key in keys:
        if public_key_sha256(key) != sig.get("public_key_sha256"):
            continue
        try:
            key.verify(value, canonical_json(body))
        except InvalidSignature:
            return None
        return public_key_sha256(key)
    return None


def public_pem(key: Ed25519PrivateKey | Ed25519PublicKey) -> str:
    pub = key.public_key() if isinstance(key, Ed25519PrivateKey) else key
    return pub.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()


def public_key_from_pem(text: str) -> Ed25519PublicKey:
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise InputError("public key", "not an Ed25519 key")
    return key
