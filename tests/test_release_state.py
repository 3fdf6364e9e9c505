"""The release decision fails closed: when it cannot be made, an earlier released copy is withdrawn."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from btb.audit.hashing import sha256_file
from btb.errors import BTBError
from btb.release.gate import release_state


def _video(tmp_path: Path) -> tuple[Path, Path, Path]:
    res = tmp_path / "results" / "v"
    res.mkdir(parents=True)
    out = res / "v.deid.mp4"
    out.write_bytes(b"de-identified bytes")
    verdict = res / "verdict.json"
    verdict.write_text(json.dumps({"verdict": "pass", "flags": 0, "frames_flagged": 0,
                                   "output_sha256": sha256_file(out)}))
    return out, verdict, tmp_path / "results" / "release"


def test_passing_video_is_released(tmp_path: Path) -> None:
    out, verdict, release = _video(tmp_path)
    state = release_state("v", str(out), str(verdict), str(release))
    assert state["status"] == "released" and (release / out.name).read_bytes() == out.read_bytes()


@pytest.mark.parametrize("damage", ["review log", "verdict"])
def test_undecidable_release_withdraws_the_earlier_copy(tmp_path: Path, damage: str) -> None:
    out, verdict, release = _video(tmp_path)
    release_state("v", str(out), str(verdict), str(release))  # released by an earlier run
    assert (release / out.name).is_file()
    if damage == "review log":
        (out.parent / "review.jsonl").write_text('{"decision": "approve", "not": "chained"}\n')
        expected: type[Exception] = BTBError
    else:
        verdict.write_text("{truncated")
        expected = json.JSONDecodeError
    with pytest.raises(expected):
        release_state("v", str(out), str(verdict), str(release))
    assert not (release / out.name).exists()
