"""Signed manifests: a detached Ed25519 signature over the manifest's exact bytes, checked by
``btb verify --key``; a flipped byte, another key, a missing or damaged signature each fail verification."""

from __future__ import annotations

import json
import shutil
import stat
import subprocess

import pytest

from btb.audit.manifest import record_manifest
from btb.audit.signing import generate_keypair, load_public_key, public_key_sha256, signature_path
from btb.audit.verify import verify_manifest
from btb.cli import main
from btb.errors import InputError


@pytest.fixture
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    digest = generate_keypair(d / "signing.pem", d / "public.pem")
    other = generate_keypair(d / "other.pem", d / "other_public.pem")
    return {"private": d / "signing.pem", "public": d / "public.pem", "sha256": digest,
            "other_private": d / "other.pem", "other_public": d / "other_public.pem", "other_sha256": other}


@pytest.fixture
def signed(run_dir, keys):
    """The fake run's manifest recorded again, signed."""
    manifest = run_dir / "results" / "v1" / "manifest.json"
    record_manifest(manifest, json.loads(manifest.read_text()), keys["private"])
    return manifest


def verify_cli(capsys, *args):
    rc = main(["verify", *map(str, args)])
    return rc, capsys.readouterr().out


def test_keygen_writes_an_owner_only_private_key_and_refuses_to_overwrite(keys, capsys):
    assert stat.S_IMODE(keys["private"].stat().st_mode) == 0o600
    assert keys["public"].read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert public_key_sha256(load_public_key(keys["public"])) == keys["sha256"] != keys["other_sha256"]
    before = keys["private"].read_bytes()
    assert main(["keygen", str(keys["private"]), str(keys["private"].with_name("x.pem"))]) == 2
    assert "already exists" in capsys.readouterr().err
    assert keys["private"].read_bytes() == before


def test_signed_manifest_verifies(signed, keys, capsys):
    sig = signature_path(signed)
    assert sig.stat().st_size == 64
    m = json.loads(signed.read_text())
    assert m["signature"] == {"algorithm": "Ed25519", "file": "manifest.json.sig", "public_key_sha256": keys["sha256"]}
    assert verify_manifest(signed, public_key=load_public_key(keys["public"])) == ([], 4)
    rc, out = verify_cli(capsys, signed, "--key", keys["public"])
    assert rc == 0 and "signature valid" in out and keys["sha256"] in out
    last = (signed.parent.parent / "audit_log.jsonl").read_text().splitlines()[-1]
    assert json.loads(last)["signed_by"] == keys["sha256"]


def test_private_key_is_never_written_into_results(signed, keys):
    body = "".join(keys["private"].read_text().splitlines()[1:-1])  # the base64 of the key
    for f in (signed.parent.parent).rglob("*"):
        if f.is_file():
            assert body not in f.read_text(errors="replace"), f
            assert keys["private"].read_bytes() not in f.read_bytes(), f


def test_flipped_byte_in_the_manifest_fails(signed, keys, capsys):
    data = bytearray(signed.read_bytes())
    i = data.index(b'"union"') + 1
    data[i] ^= 0x20  # "union" -> "Union": same size, valid JSON
    signed.write_bytes(bytes(data))
    problems, _ = verify_manifest(signed, public_key=load_public_key(keys["public"]))
    assert "signature" in {p.role for p in problems}
    assert any("signature does not verify" in p.problem for p in problems)
    rc, out = verify_cli(capsys, signed, "--key", keys["public"])
    assert rc == 1 and out.startswith(f"FAIL {signed}") and "changed after signing" in out


def test_wrong_key_fails(signed, keys, capsys):
    rc, out = verify_cli(capsys, signed, "--key", keys["other_public"])
    assert rc == 1
    assert "signature does not verify with the given public key" in out
    assert f"signed by key sha256 {keys['sha256']}, not the given key" in out
    # the files and the run log are fine: only the signature check fails
    assert [p.role for p in verify_manifest(signed, public_key=load_public_key(keys["other_public"]))[0]] == [
        "signature", "signature"]


def test_unsigned_manifest_fails_with_key_and_passes_without(run_dir, keys, capsys):
    manifest = run_dir / "results" / "v1" / "manifest.json"
    assert not signature_path(manifest).exists()
    rc, out = verify_cli(capsys, manifest, "--key", keys["public"])
    assert rc == 1 and "signature missing: the manifest is not signed" in out
    rc, out = verify_cli(capsys, manifest)
    assert rc == 0


@pytest.mark.parametrize("damage", ["truncated", "flipped", "deleted"])
def test_damaged_signature_fails(signed, keys, capsys, damage):
    sig = signature_path(signed)
    if damage == "truncated":
        sig.write_bytes(sig.read_bytes()[:63])
    elif damage == "flipped":
        data = bytearray(sig.read_bytes())
        data[10] ^= 1
        sig.write_bytes(bytes(data))
    else:
        sig.unlink()
    rc, out = verify_cli(capsys, signed, "--key", keys["public"])
    assert rc == 1
    expected = {"truncated": "not an Ed25519 signature (63 bytes", "flipped": "signature does not verify",
                "deleted": "signature missing"}[damage]
    assert expected in out


def test_signing_again_without_a_key_removes_the_stale_signature(signed):
    record_manifest(signed, {k: v for k, v in json.loads(signed.read_text()).items() if k != "signature"})
    assert not signature_path(signed).exists()
    assert verify_manifest(signed)[0] == []


@pytest.mark.parametrize("kind", ["missing", "garbage", "rsa", "public_instead"])
def test_bad_signing_key_fails_before_anything_is_written(run_dir, keys, tmp_path, kind):
    manifest = run_dir / "results" / "v2" / "manifest.json"
    key = tmp_path / f"{kind}.pem"
    if kind == "garbage":
        key.write_text("not a key\n")
    elif kind == "rsa":
        from cryptography.hazmat.primitives import serialization
        from cryptography.hazmat.primitives.asymmetric import rsa

        key.write_bytes(rsa.generate_private_key(public_exponent=65537, key_size=2048).private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
    elif kind == "public_instead":
        shutil.copyfile(keys["public"], key)
    m = json.loads((run_dir / "results" / "v1" / "manifest.json").read_text())
    with pytest.raises(InputError) as err:
        record_manifest(manifest, {**m, "video_id": "v2"}, key)
    assert str(key) in str(err.value)
    assert {"missing": "not found", "garbage": "not a PEM private key", "rsa": "not an Ed25519 key",
            "public_instead": "not a PEM private key"}[kind] in str(err.value)
    assert not manifest.exists() and not signature_path(manifest).exists()


def test_unreadable_public_key_is_a_clear_error(signed, tmp_path, capsys):
    rc = main(["verify", str(signed), "--key", str(tmp_path / "nope.pem")])
    assert rc == 2 and "public key not found" in capsys.readouterr().err


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_keys_and_signatures_interoperate(run_dir, tmp_path, capsys):
    """The documented OpenSSL route works both ways: its keys sign here, and it verifies our signatures."""
    priv, pub = tmp_path / "ossl.pem", tmp_path / "ossl_pub.pem"
    subprocess.run(["openssl", "genpkey", "-algorithm", "ed25519", "-out", str(priv)], check=True)
    subprocess.run(["openssl", "pkey", "-in", str(priv), "-pubout", "-out", str(pub)], check=True)
    manifest = run_dir / "results" / "v1" / "manifest.json"
    record_manifest(manifest, json.loads(manifest.read_text()), priv)
    ok = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub), "-rawin", "-in",
                         str(manifest), "-sigfile", str(signature_path(manifest))], capture_output=True, text=True)
    assert ok.returncode == 0 and "Signature Verified Successfully" in ok.stdout
    assert verify_cli(capsys, manifest, "--key", pub)[0] == 0
    manifest.write_bytes(manifest.read_bytes().replace(b'"union"', b'"Union"'))
    bad = subprocess.run(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", str(pub), "-rawin", "-in",
                          str(manifest), "-sigfile", str(signature_path(manifest))], capture_output=True, text=True)
    assert bad.returncode != 0


@pytest.mark.parametrize("kind", ["missing", "passphrase"])
def test_a_bad_signing_key_stops_the_run_before_any_job(tmp_path, kind):
    """The workflow loads the signing key when it starts: a missing or passphrase-protected key stops the run
    with the key file named, before any video is touched (it used to be found only after every stage of
    every video had run, with the outputs already released)."""
    from conftest import default_config, run_snakemake
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    key = tmp_path / "signing.pem"
    if kind == "passphrase":
        key.write_bytes(Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret")))
    cfg = default_config()
    cfg["audit"]["signing_key"] = str(key)
    proc = run_snakemake(tmp_path / "work", cfg, ["-n"], check=False)
    assert proc.returncode != 0
    out = proc.stdout + proc.stderr
    assert str(key) in out and ("not found" in out or "passphrase" in out)
    assert "rule probe_video" not in out and not (tmp_path / "work" / "results").exists()
