"""The release stage (environment ``envs/audit.yaml``): fail closed."""

from __future__ import annotations

from btb.audit.io import write_json
from btb.release.gate import release_state


def release(*, deliverable: str, verdict_json: str, out: str, release_dir: str, video_id: str) -> None:
    """The deliverable enters the release area only with a passing verification or a recorded approval of
    this very file (by sha256); otherwise it stays in the review area. ``out``: the release state."""
    write_json(out, release_state(video_id, deliverable, verdict_json, release_dir))
