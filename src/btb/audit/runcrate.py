"""Workflow Run RO-Crate metadata of a run: ``results/ro-crate-metadata.json``.

The crate's root is ``results/``. Only the metadata file is written (no data file is copied, never a video):
one ``CreateAction`` (the run) whose ``instrument`` is the workflow, whose ``object`` lists the input files and
model files, and whose ``result`` lists every output (de-identified files, their processing records, manifests
and signatures, release states, QA reports, the run summary), each a ``File`` entity with ``sha256`` and
``contentSize``. Files under ``results/`` are crate-relative; inputs and models live elsewhere and are named by
absolute ``file://`` URI. Face-bearing intermediates (``results/<id>/work/``) are never listed: they are not
outputs, and they are deleted after use.

Follows the Workflow Run Crate profile (https://w3id.org/ro/wfrun/workflow/0.5) as far as rocrate allows:
root ``conformsTo`` Process Run Crate, Workflow Run Crate and Workflow RO-Crate; the workflow is the crate's
``mainEntity`` (a ``ComputationalWorkflow`` in Snakemake) with ``FormalParameter`` inputs/outputs, and every
file points at its parameter through ``exampleOfWork``.
"""

from __future__ import annotations

import json
import mimetypes
import uuid
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

from btb.audit.hashing import sha256_file
from btb.audit.io import utc_now, write_atomic
from btb.audit.records import git_state
from btb.errors import BTBError

CRATE_FILE = "ro-crate-metadata.json"
WFRUN_VERSION = "0.5"
PROFILES = {
    f"https://w3id.org/ro/wfrun/process/{WFRUN_VERSION}": "Process Run Crate",
    f"https://w3id.org/ro/wfrun/workflow/{WFRUN_VERSION}": "Workflow Run Crate",
}
MEDIA_TYPES = {".parquet": "application/vnd.apache.parquet", ".tsv": "text/tab-separated-values",
               ".sig": "application/octet-stream", ".nut": "video/x-nut", ".onnx": "application/octet-stream",
               ".pb": "application/octet-stream", ".mkv": "video/x-matroska"}


@dataclass(frozen=True)
class Param:
    key: str
    name: str
    description: str

    @property
    def id(self) -> str:
        return f"#param-{self.key}"


INPUT_MEDIA = Param("input_media", "input media", "video or photo to de-identify (face-bearing; never copied)")
MODEL = Param("model", "face detector model", "model file, verified against its pinned sha256")
FEATURE_FILES = {f"{t}.{ext}" for t in ("faces", "tracks", "frames") for ext in ("parquet", "csv")} | {"features.json"}
OUTPUTS = (  # (matches, parameter); the first match wins
    (lambda p: (p.parent.name == "features" and p.name in FEATURE_FILES) or p.name.endswith(".features.zip"),
     Param("face_features", "face features",
                                                  "tabular features per face track and frame: boxes, landmarks, "
                                                  "scores, head pose, motion; no pixels (docs/features.md)")),
    (lambda p: ".deid." in p.name, Param("deidentified_media", "de-identified media",
                                         "the blurred, metadata-free video or photo")),
    (lambda p: p.name == "manifest.json", Param("audit_manifest", "audit manifest",
                                                "per-video manifest: every file with sha256, stages, config")),
    (lambda p: p.name == "manifest.json.sig", Param("manifest_signature", "manifest signature",
                                                    "detached Ed25519 signature of the manifest's bytes")),
    (lambda p: p.name == "release.json", Param("release_state", "release state",
                                               "released / needs_review / rejected, and why")),
    (lambda p: p.name == "qa_report.html", Param("qa_report", "QA report",
                                                 "per-video QA report (no unblurred face)")),
    (lambda p: p.name.startswith("summary."), Param("run_summary", "run summary", "every video with its status")),
)
PROCESSING_RECORD = Param("processing_record", "processing record",
                          "blur regions, detections, frame table, residual verification, output check")


def output_param(path: Path) -> Param:
    return next((param for match, param in OUTPUTS if match(path)), PROCESSING_RECORD)


def _load(path: str | Path) -> dict[str, Any]:
    return json.loads(Path(path).read_text(encoding="utf-8"))


def is_face_bearing(rel: Path) -> bool:
    """``<id>/work/...`` under results/: the blurred lossless intermediates."""
    return len(rel.parts) > 2 and rel.parts[1] == "work"


class _Files:
    """Data entities of the crate, one per file, hashed once."""

    def __init__(self, crate: Any, results: Path, base: Path) -> None:
        self.crate, self.results, self.base = crate, results.resolve(), base
        self.entities: dict[str, Any] = {}

    def add_withheld(self, label: str, param: Param, sha256: str, size: int) -> Any:
        """An input whose path is withheld (opaque ids): a ``urn:btb:`` entity with its hash and size."""
        key = f"urn:btb:{label}"
        if key not in self.entities:
            self.entities[key] = self.crate.add_file(key, properties={
                "name": label, "sha256": sha256, "contentSize": str(size),
                "encodingFormat": "application/octet-stream", "exampleOfWork": {"@id": param.id}})
        return self.entities[key]

    def add(self, path: str | Path, param: Param, sha256: str | None = None, size: int | None = None) -> Any:
        p = Path(path)
        absolute = (p if p.is_absolute() else self.base / p).resolve()
        inside = absolute.is_relative_to(self.results)
        rel = absolute.relative_to(self.results) if inside else None
        if rel is not None and is_face_bearing(rel):
            raise BTBError(f"{path}: a face-bearing intermediate must not be listed in the run crate")
        key = rel.as_posix() if rel is not None else absolute.as_uri()
        if key in self.entities:
            return self.entities[key]
        if sha256 is None or size is None:
            sha256, size = sha256_file(absolute), absolute.stat().st_size
        props = {"name": absolute.name, "sha256": sha256, "contentSize": str(size),
                 "encodingFormat": MEDIA_TYPES.get(absolute.suffix.lower())
                 or mimetypes.guess_type(absolute.name)[0] or "application/octet-stream",
                 "exampleOfWork": {"@id": param.id}}
        if rel is not None:
            entity = self.crate.add_file(absolute, dest_path=rel, properties=props)
        else:
            entity = self.crate.add_file(key, properties=props)
        self.entities[key] = entity
        return entity


def build_run_crate(manifests: list[str], outputs: list[str], results: str | Path, repo: str | Path,
                    base: str | Path | None = None) -> Any:
    """The crate of a run from its manifests (inputs, models, outputs with the hashes they recorded) and the
    other outputs (hashed here). Paths are relative to ``base`` (default: the working directory)."""
    from rocrate.rocrate import ROCrate

    base = Path(base) if base is not None else Path.cwd()
    crate = ROCrate()
    files = _Files(crate, Path(results) if Path(results).is_absolute() else base / results, base)
    loaded = [_load(base / m if not Path(m).is_absolute() else m) for m in manifests]

    objects: list[Any] = []
    results_: list[Any] = []
    for m in loaded:
        for f in m["files"]:
            if f["role"] == "input" and f.get("path_withheld"):
                objects.append(files.add_withheld(f["path"], INPUT_MEDIA, f["sha256"], f["bytes"]))
            elif f["role"] == "input":
                objects.append(files.add(f["path"], INPUT_MEDIA, f["sha256"], f["bytes"]))
            elif f["role"] == "model":
                objects.append(files.add(f["path"], MODEL, f["sha256"], f["bytes"]))
            elif f["role"] == "output":
                results_.append(files.add(f["path"], output_param(Path(f["path"])), f["sha256"], f["bytes"]))
    for path in [*manifests, *outputs]:
        results_.append(files.add(path, output_param(Path(path))))

    snakefile = Path(repo).resolve() / "Snakefile"
    git = git_state(repo)
    workflow = crate.add_workflow(
        snakefile.as_uri(), main=True, lang="snakemake", lang_version=_version("snakemake"),
        properties={"name": "Blur the Baby (BTB) de-identification workflow",
                    "version": git["commit"] or "unknown",
                    "description": f"git commit {git['commit']}; uncommitted changes: {git['dirty']}",
                    "sha256": sha256_file(snakefile), "contentSize": str(snakefile.stat().st_size)})
    params_in = [_param(crate, p, True) for p in (INPUT_MEDIA, MODEL)]
    params_out = [_param(crate, p, False) for _, p in OUTPUTS] + [_param(crate, PROCESSING_RECORD, False)]
    workflow["input"], workflow["output"] = params_in, params_out

    starts = [m["started_utc"] for m in loaded if m.get("started_utc")]
    ended = utc_now()
    action = crate.add_action(
        workflow, identifier=f"#run-{uuid.uuid4()}", object=_unique(objects), result=_unique(results_),
        properties={"@type": "CreateAction",
                    "name": f"BTB run: {len(loaded)} video(s)/photo(s) de-identified",
                    "startTime": min(starts) if starts else ended, "endTime": ended,
                    "actionStatus": {"@id": "http://schema.org/CompletedActionStatus"}})
    for profile_id, name in PROFILES.items():
        profile = crate.add_jsonld({"@id": profile_id, "@type": "CreativeWork", "name": name,
                                    "version": WFRUN_VERSION})
        crate.root_dataset.append_to("conformsTo", profile)
    crate.root_dataset["name"] = "Blur the Baby: de-identification run"
    crate.root_dataset["description"] = (
        "Provenance of one de-identification run: inputs and models by sha256 (not copied), every output with its "
        "sha256. Face-bearing intermediates are not part of it.")
    crate.root_dataset["datePublished"] = ended
    crate.root_dataset["mentions"] = [action]
    return crate


def _param(crate: Any, p: Param, required: bool) -> Any:
    return crate.add_formal_parameter(p.name, "File", identifier=p.id, description=p.description,
                                      valueRequired=required)


def _unique(entities: list[Any]) -> list[Any]:
    seen: dict[str, Any] = {}
    for e in entities:
        seen.setdefault(e.id, e)
    return list(seen.values())


def _version(package: str) -> str | None:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return None


def write_run_crate(out: str | Path, manifests: list[str], outputs: list[str], repo: str | Path,
                    base: str | Path | None = None) -> dict[str, Any]:
    """Write ``out`` (``<results>/ro-crate-metadata.json``) atomically; only the metadata, no data file."""
    out = Path(out)
    if out.name != CRATE_FILE:
        raise BTBError(f"{out}: the run crate's metadata file must be called {CRATE_FILE}")
    crate = build_run_crate(manifests, outputs, out.parent, repo, base)
    data = crate.metadata.generate()
    write_atomic(out, (json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n").encode("utf-8"))
    return data
