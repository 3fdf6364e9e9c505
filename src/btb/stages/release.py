"""The release stages (environment ``envs/audit.yaml``): the decision before the manifest, the release after it."""

from __future__ import annotations

from btb.audit.io import write_json
from btb.release.gate import decide, publish


def decide_release(*, deliverable: str, verdict_json: str | None, review_log: str | None, trusted: list[str], out: str,
                   video_id: str, review_items: str | None = None, manual: str | None = None) -> None:
    """``release.json``: released (verification passed, or a signed approval by a ``trusted`` key of this very
    file or of each of its open review items), needs review, or rejected. Nothing leaves the lab here."""
    write_json(out, decide(video_id, deliverable, verdict_json, review_log, trusted, review_items, manual))


def release(*, deliverable: str, release_json: str, manifest: str, out: str, release_dir: str, video_id: str,
            public_pem: str | None) -> None:
    """Link the deliverable into ``release_dir`` when its decision says so and its manifest (signed by
    ``public_pem`` when manifests are signed) vouches for it; ``out``: the publication record."""
    write_json(out, publish(video_id, deliverable, release_json, manifest, release_dir, public_pem))
