"""The run summary: one row per video (status, counts, times, verdict, release state, hashes) as JSON, TSV and a
small HTML page. The same writer serves a finished run and a run with failed videos (``btb.audit.failures``).
Standard library only.
"""

from __future__ import annotations

import csv
import html
import io
from datetime import datetime
from pathlib import Path
from typing import Any

from btb.audit.hashing import sha256_file
from btb.audit.io import read_json, utc_now, write_json, write_text

RUN_REPORT_COLUMNS = ["video_id", "status", "frames", "blur_regions", "verdict", "residual_flags", "release"]


def _seconds_between(start: str | None, end: str | None) -> float | None:
    """Seconds from the first stage's start to the last stage's end (ISO-8601 UTC stamps)."""
    if not start or not end:
        return None
    return round((datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds(), 2)


def build_summary(manifests: list[str], releases: list[str] | None = None,
                  publications: list[str] | None = None) -> dict[str, Any]:
    """One row per manifest; ``releases``: the release decisions, ``publications``: what the release step did
    (the ``release`` column says ``released`` only for a file actually in ``results/release/``)."""
    rows = []
    states = {s["video_id"]: s for s in map(read_json, releases or [])}
    published = {s["video_id"]: s for s in map(read_json, publications or [])}
    for path in manifests:
        m = read_json(path)
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
            "release": _release_status(state, published.get(m["video_id"])),
            "released_path": (published.get(m["video_id"]) or {}).get("released_path"),
            "started_utc": m["started_utc"],
            "ended_utc": m["ended_utc"],
            "wall_seconds": _seconds_between(m["started_utc"], m["ended_utc"]),
            "job_seconds": round(sum(s.get("seconds") or 0.0 for s in m["stages"].values()), 2),
            # the detection jobs' own records (a gathered table's record adds up its chunks' seconds)
            "detect_seconds": round(sum(s.get("seconds") or 0.0 for n, s in m["stages"].items()
                                        if n.startswith("detect_") and "chunk_seconds" not in s.get("notes", {})),
                                    2),
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


def _release_status(decision: dict[str, Any], publication: dict[str, Any] | None) -> str | None:
    """The decision's status, except that a video whose release step has not run (or did not release it) is
    not ``released``."""
    status = decision.get("status")
    if status == "released" and not (publication or {}).get("released_path"):
        return "not_released"
    return status


def summary_tsv(rows: list[dict[str, Any]]) -> str:
    """Tab-separated rows with the union of their columns (in order of first appearance); None is empty."""
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, columns, delimiter="\t", lineterminator="\n", restval="")
    writer.writeheader()
    writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
    return buf.getvalue()


def run_report_html(summary: dict[str, Any]) -> str:
    head = "".join(f"<th>{c}</th>" for c in RUN_REPORT_COLUMNS)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(str(v.get(c)))}</td>" for c in RUN_REPORT_COLUMNS)
                   + "</tr>" for v in summary["videos"])
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>BTB run</title></head>
<body><h1>Run summary</h1><p>{summary['n_videos']} videos, {summary.get('n_released', 0)} released,
{summary.get('n_needs_review', 0)} held for review{_failed(summary)}.</p><table border="1"><tr>{head}</tr>{body}</table>
</body></html>"""


def _failed(summary: dict[str, Any]) -> str:
    n = summary.get("n_failed", 0)
    return f", {n} failed" if n else ""


def write_run_summary(summary: dict[str, Any], out_json: str | Path, out_tsv: str | Path,
                      out_html: str | Path) -> None:
    """The run summary in its three forms (each written atomically)."""
    write_json(out_json, summary)
    write_text(out_tsv, summary_tsv(summary["videos"]))
    write_text(out_html, run_report_html(summary))
