"""A real signed run: every manifest carries a detached Ed25519 signature that `btb verify --key` checks, the
private key is nowhere in the run's files, the run's RO-Crate lists every output with its sha256 (and no
face-bearing intermediate), and kept intermediates are owner-only."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path
from urllib.parse import unquote

import pytest
import yaml
from conftest import copy_clip, run_snakemake, workflow_config

from btb.audit.hashing import sha256_file
from btb.audit.signing import generate_keypair

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def signed_run(tmp_path_factory, face_clip, models_dir):
    work = tmp_path_factory.mktemp("signed")
    keys = tmp_path_factory.mktemp("keys")
    generate_keypair(keys / "signing.pem", keys / "public.pem")
    clip = copy_clip(face_clip, work / "in" / "clip.mp4")
    sheet = work / "samples.tsv"
    sheet.write_text(f"video_id\tpath\ns1\t{clip}\n")
    cfg = workflow_config(models_dir, sheet, frames__keep_intermediates=True,
                          frames__chunks=2)  # two chunks: blurred lossless chunks exist to be kept
    cfg["audit"] = {"signing_key": str(keys / "signing.pem")}
    run_snakemake(work, cfg)
    return work, keys, clip


def btb_verify(*args):
    return subprocess.run([sys.executable, "-m", "btb", "verify", *map(str, args)], capture_output=True, text=True)


def test_manifest_is_signed_and_verifies(signed_run):
    work, keys, _ = signed_run
    manifest = work / "results" / "s1" / "manifest.json"
    assert (work / "results" / "s1" / "manifest.json.sig").stat().st_size == 64
    ok = btb_verify(manifest, "--key", keys / "public.pem")
    assert ok.returncode == 0 and "signature valid" in ok.stdout, ok.stdout
    other = keys / "other"
    generate_keypair(other / "x.pem", other / "x_public.pem")
    wrong = btb_verify(manifest, "--key", other / "x_public.pem")
    assert wrong.returncode == 1 and "signature does not verify" in wrong.stdout


def test_flipped_byte_in_a_signed_manifest_fails(signed_run, tmp_path):
    work, keys, _ = signed_run
    manifest = work / "results" / "s1" / "manifest.json"
    original = manifest.read_bytes()
    try:
        data = bytearray(original)
        data[data.index(b'"s1"') + 1] ^= 0x20  # the video id "s1" -> "S1"
        manifest.write_bytes(bytes(data))
        bad = btb_verify(manifest, "--key", keys / "public.pem")
        assert bad.returncode == 1
        assert "signature does not verify" in bad.stdout and "changed after signing" in bad.stdout
    finally:
        manifest.write_bytes(original)
    assert btb_verify(manifest, "--key", keys / "public.pem").returncode == 0


def test_private_key_is_nowhere_in_the_run(signed_run):
    work, keys, _ = signed_run
    pem = (keys / "signing.pem").read_bytes()
    body = b"".join(pem.splitlines()[1:-1])
    for f in work.rglob("*"):
        if f.is_file() and f.stat().st_size < 50_000_000:
            data = f.read_bytes()
            assert body not in data, f"the private key's content is in {f}"


def crate_entities(work: Path) -> dict[str, dict]:
    from rocrate.rocrate import ROCrate

    crate = ROCrate(work / "results")  # loads, validating the JSON-LD structure the library expects
    return {e.id: e.properties() for e in crate.get_entities()}


def test_run_crate_lists_every_output_with_its_sha256(signed_run):
    work, _, clip = signed_run
    results = work / "results"
    entities = crate_entities(work)
    manifest = json.loads((results / "s1" / "manifest.json").read_text())
    expected = [f["path"] for f in manifest["files"] if f["role"] == "output"] + [
        "results/s1/manifest.json", "results/s1/manifest.json.sig", "results/s1/release.json",
        "results/s1/publication.json", "results/s1/qa_report.html", "results/summary.json", "results/summary.tsv",
        "results/summary.html"]
    for path in expected:
        rel = Path(path).relative_to("results").as_posix()
        assert rel in entities, f"{rel} is not in the crate"
        e = entities[rel]
        assert e["sha256"] == sha256_file(work / path), path
        assert int(e["contentSize"]) == (work / path).stat().st_size, path
    actions = [e for e in entities.values() if e.get("@type") == "CreateAction"]
    assert len(actions) == 1
    action = actions[0]
    result_ids = {r["@id"] for r in action["result"]}
    assert {Path(p).relative_to("results").as_posix() for p in expected} <= result_ids
    # inputs and models are the action's objects, named by file URI, with the manifest's hashes
    objects = {unquote(o["@id"]): entities[o["@id"]] for o in action["object"]}
    assert objects[clip.resolve().as_uri()]["sha256"] == sha256_file(clip)
    assert sum(e["exampleOfWork"]["@id"] == "#param-model" for e in objects.values()) >= 2
    main = entities["./"]["mainEntity"]["@id"]
    assert action["instrument"]["@id"] == main and main.endswith("/Snakefile")
    assert "ComputationalWorkflow" in entities[main]["@type"]
    assert action["startTime"] <= action["endTime"]
    profiles = {c["@id"] for c in entities["./"]["conformsTo"]}
    assert {"https://w3id.org/ro/wfrun/process/0.5", "https://w3id.org/ro/wfrun/workflow/0.5"} <= profiles


def test_run_crate_has_no_face_bearing_file(signed_run):
    work, _, clip = signed_run
    results = work / "results"
    assert list((results / "s1" / "work").glob("blurred.*.nut")), "kept intermediates exist on disk in this run"
    intermediates = {f["path"] for f in json.loads((results / "s1" / "manifest.json").read_text())["files"]
                     if f["role"] == "intermediate"}
    assert any("/work/" in p for p in intermediates)
    entities = crate_entities(work)
    face_bearing = (results / "s1" / "work").resolve()
    for eid in entities:
        if eid.startswith("file://"):
            path = Path(unquote(eid.removeprefix("file://")))
        elif eid.startswith(("#", "http")):
            continue
        else:
            path = (results / unquote(eid)).resolve()
        assert not path.is_relative_to(face_bearing) and path.suffix != ".nut", eid
        assert f"results/{unquote(eid)}" not in intermediates, eid
    # only the metadata file was written: no copy of the input anywhere under results/
    digest = sha256_file(clip)
    assert not [f for f in results.rglob("*") if f.is_file() and f.stat().st_size == clip.stat().st_size
                and sha256_file(f) == digest]
    assert sorted(p.name for p in results.glob("ro-crate*")) == ["ro-crate-metadata.json"]


def test_kept_intermediates_are_owner_only(signed_run):
    work, _, _ = signed_run
    wdir = work / "results" / "s1" / "work"
    chunks = sorted(wdir.glob("blurred.*.nut"))
    assert chunks
    assert stat.S_IMODE(wdir.stat().st_mode) == 0o700
    for f in chunks:
        assert stat.S_IMODE(f.stat().st_mode) == 0o600, f
    assert not list(wdir.rglob(".*.part")), "no partial file left"


def test_env_signing_key_overrides_and_reruns_only_the_audit_jobs(signed_run, tmp_path):
    """A new key (BTB_SIGNING_KEY) is a changed parameter: the manifests are re-signed, nothing is re-processed.
    (Last in this module: it re-signs the shared run with another key.)"""
    work, keys, _ = signed_run
    generate_keypair(tmp_path / "new.pem", tmp_path / "new_public.pem")
    cfg = yaml.safe_load((work / "config.yaml").read_text())
    proc = run_snakemake(work, cfg, ["-n", "--quiet", "rules"], env={"BTB_SIGNING_KEY": str(tmp_path / "new.pem")})
    planned = proc.stdout + proc.stderr
    assert "write_manifest" in planned and "write_run_crate" in planned
    for rule in ("index_frames", "detect_yunet", "blur_frames", "encode_video"):
        assert rule not in planned, planned
    run_snakemake(work, cfg, env={"BTB_SIGNING_KEY": str(tmp_path / "new.pem")})
    manifest = work / "results" / "s1" / "manifest.json"
    assert btb_verify(manifest, "--key", tmp_path / "new_public.pem").returncode == 0
    assert btb_verify(manifest, "--key", keys / "public.pem").returncode == 1
