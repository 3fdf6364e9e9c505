"""Failed videos: one record each, and a run summary that lists them beside the finished ones.

Snakemake (with ``--keep-going``) finishes every video it can; the workflow's ``onerror`` handler then calls
``record_failures``. A video without a manifest failed: its error is the first ``ERROR`` line of its rule
logs (the workflow scripts log ``BTBError`` messages, which name the file and the problem), written to
``results/<id>/failure.json`` together with the input's sha256 where the file is readable.
"""

from __future__ import annotations

import re
import shutil
import sys
from pathlib import Path
from typing import Any

from btb.audit.hashing import sha256_file
from btb.audit.io import utc_now, write_json
from btb.audit.summary import build_summary, write_run_summary

ERROR_LINE = re.compile(r"\bERROR btb: (?P<msg>.*)$")


def video_logs(results: Path, video_id: str) -> list[Path]:
    """The rule logs of one video: ``<rule>/<id>.log``, or with a job's suffix (``<id>.1of4``,
    ``<id>_all.1of4``, ``<id>.retinaface_all``, ``<id>.jpg``), never another video's whose id begins alike."""
    own = re.compile(re.escape(video_id) + r"(?:_(?:all|cascade))?(?:\.[a-z0-9]+(?:_(?:all|cascade))?)?")
    return [p for p in (results / "logs").glob("*/*.log") if own.fullmatch(p.stem)]


def first_error(results: Path, video_id: str) -> tuple[str | None, str | None]:
    """(rule, message) of the earliest error logged for ``video_id`` (None when there is none)."""
    for log in sorted(video_logs(results, video_id), key=lambda p: p.stat().st_mtime):
        for line in log.read_text(errors="replace").splitlines():
            m = ERROR_LINE.search(line)
            if m:
                return log.parent.name, m.group("msg")
    return None, None


def record_failures(samples: dict[str, Any], results: str | Path = "results",
                    keep_intermediates: bool = False, withhold_paths: bool = False) -> list[dict[str, Any]]:
    """Write failure records and a summary (done + failed) after a run that did not finish every video, and
    remove the face-bearing intermediates (``results/<id>/work/``) the failed jobs left, unless kept.

    ``withhold_paths`` (an input folder under opaque ids): the records show ``input:<id>`` for the input path
    (the file's hash is still recorded); the terminal message names the file, for the person at it."""
    results = Path(results)
    attempted = [vid for vid in samples if (results / vid).exists() or video_logs(results, vid)]
    if not attempted:  # the run failed before any video's job (or it was another target, e.g. evaluate)
        return []
    if not keep_intermediates:
        for vid in samples:
            shutil.rmtree(results / vid / "work", ignore_errors=True)
    done = [str(results / vid / "manifest.json") for vid in sorted(samples)
            if (results / vid / "manifest.json").is_file()]
    releases = [str(results / vid / "release.json") for vid in sorted(samples)
                if (results / vid / "release.json").is_file()]
    published = [str(results / vid / "publication.json") for vid in sorted(samples)
                 if (results / vid / "publication.json").is_file()]
    # fail closed: a video whose run did not reach its release step has no released copy (an earlier run's
    # copy is withdrawn: it is not what this run's records describe)
    for vid in samples:
        if not _published(results / vid):
            for copy in (results / "release").glob(f"{vid}.deid.*"):
                copy.unlink(missing_ok=True)
    summary = build_summary(done, releases, published)
    failures = []
    for vid in sorted(samples):
        if (results / vid / "manifest.json").is_file():
            continue
        path = samples[vid].path
        rule, message = first_error(results, vid)
        record = {
            "video_id": vid, "status": "failed", "input": f"input:{vid}" if withhold_paths else path,
            "input_sha256": sha256_file(path) if Path(path).is_file() and _readable(path) else None,
            "failed_rule": rule, "error": message or "not finished (see the Snakemake log)",
            "recorded_utc": utc_now(),
        }
        try:
            write_json(results / vid / "failure.json", record)
        except OSError as exc:  # a full disk: the message below still names the video and the problem
            print(f"btb: {vid}'s failure record could not be written ({exc.strerror or exc})", file=sys.stderr)
        failures.append(record)
        summary["videos"].append({"video_id": vid, "status": "failed", "error": record["error"],
                                  "failed_rule": rule, "output": None})
    summary["n_videos"] = len(summary["videos"])
    summary["n_failed"] = len(failures)
    # all three forms: an older HTML page would contradict the TSV
    try:
        write_run_summary(summary, results / "summary.json", results / "summary.tsv", results / "summary.html")
    except OSError as exc:
        print(f"btb: the run summary could not be written ({exc.strerror or exc}): results/summary.* do not "
              "describe this run", file=sys.stderr)
    for f in failures:
        print(f"btb: {f['video_id']} FAILED in {f['failed_rule']}: {f['error']} (input {samples[f['video_id']].path})",
              file=sys.stderr)
    return failures


def _published(folder: Path) -> bool:
    """Whether the release step ran on this video's current manifest."""
    manifest, publication = folder / "manifest.json", folder / "publication.json"
    if not (manifest.is_file() and publication.is_file()):
        return False
    import json

    try:
        return json.loads(publication.read_text()).get("manifest_sha256") == sha256_file(manifest)
    except (OSError, ValueError):
        return False


def _readable(path: str) -> bool:
    try:
        with open(path, "rb"):
            return True
    except OSError:
        return False
