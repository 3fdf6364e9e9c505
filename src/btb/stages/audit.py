"""Audit stages (environment ``envs/audit.yaml``): the manifest of each video, the run summary and the run's
RO-Crate."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from btb.audit.manifest import build_manifest, record_manifest
from btb.audit.runcrate import write_run_crate
from btb.audit.summary import build_summary, write_run_summary


def write_manifest(*, out: str, signing_key: str | None, video_id: str, video: str, probe_json: str,
                   stage_audits: list[str], model_audits: list[str], outputs: list[str], output_check: str,
                   records: list[str], config: dict[str, Any], repo: str) -> None:
    """Record the manifest (signed with ``signing_key`` when given); a failure of an earlier run of this video
    is superseded. ``records``: the stage audit records, release decision, QA report and review log it
    vouches for too."""
    manifest = build_manifest(video_id=video_id, video=video, probe_json=probe_json, stage_audits=stage_audits,
                              model_audits=model_audits, outputs=outputs, output_check=output_check,
                              records=records, config=config, repo=repo)
    record_manifest(out, manifest, signing_key)
    Path(out).with_name("failure.json").unlink(missing_ok=True)


def summarise_run(*, manifests: list[str], releases: list[str], publications: list[str], out_json: str,
                  out_tsv: str, out_html: str) -> None:
    write_run_summary(build_summary(manifests, releases, publications), out_json, out_tsv, out_html)


def run_crate(*, out: str, manifests: list[str], outputs: list[str], repo: str) -> None:
    write_run_crate(out, manifests=manifests, outputs=outputs, repo=repo)
