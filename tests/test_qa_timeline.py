"""The QA report's timeline (inline SVG): what it draws, that it is well-formed, and that it stays small."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import numpy as np
import pandas as pd

from btb.release.qa import _steps, timeline_svg

SVG = "{http://www.w3.org/2000/svg}"


def table(rows: list[tuple[int, float]]) -> pd.DataFrame:
    return pd.DataFrame({"frame_index": [r[0] for r in rows], "score": [r[1] for r in rows]})


def regions(rows: list[tuple[int, str]]) -> pd.DataFrame:
    return pd.DataFrame({"frame_index": [r[0] for r in rows], "source": [r[1] for r in rows]})


def test_steps_keep_the_changes_and_the_ends():
    assert _steps(np.array([0, 0, 2, 2, 1]), 100) == [(0, 0), (2, 2), (4, 1)]
    assert _steps(np.array([3, 3, 3]), 100) == [(0, 3), (2, 3)]
    assert _steps(np.zeros(0, dtype=int), 100) == []


def test_a_long_video_is_reduced_to_the_largest_count_per_column():
    counts = np.zeros(100_000, dtype=int)
    counts[54_321] = 3  # a one-frame peak must still show
    counts[::2] += 1  # a count that changes on every frame
    pts = _steps(counts, 850)
    assert len(pts) <= 2 * 850 + 2
    assert max(v for _, v in pts) == 3


def test_timeline_draws_each_series_flags_and_a_legend():
    tables = {"yunet": table([(0, 0.9), (1, 0.9), (1, 0.3), (5, 0.7)]), "retinaface": table([(2, 0.5)])}
    svg = timeline_svg(10, tables, {"yunet": 0.5, "retinaface": 0.2},
                       regions([(0, "yunet"), (1, "union"), (3, "temporal_fill")]),
                       pd.DataFrame({"frame_index": [4, 4, 7]}))
    root = ET.fromstring(svg)  # well-formed
    assert root.tag == f"{SVG}svg"
    text = " ".join(t.text or "" for t in root.iter(f"{SVG}text"))
    for label in ("yunet faces ≥ 0.5", "retinaface faces ≥ 0.2", "regions (detected)",
                  "regions (temporal fill/extend/continue)", "residual flags", "frame"):
        assert label in text
    flags = [g for g in root.iter(f"{SVG}g") if g.get("fill") == "red"]
    assert len(flags) == 1 and len(list(flags[0])) == 2, "one mark per flagged frame (frames 4 and 7)"
    lines = [p for p in root.iter(f"{SVG}path") if p.get("fill") == "none"]
    assert len(lines) == 3  # two detectors and the detected regions
    assert "<image" not in svg and "base64" not in svg


def test_timeline_without_regions_or_flags():
    svg = timeline_svg(1, {"yunet": table([])}, {"yunet": 0.5}, regions([]), pd.DataFrame({"frame_index": []}))
    root = ET.fromstring(svg)
    assert not [g for g in root.iter(f"{SVG}g") if g.get("fill") == "red"]
    assert "temporal" not in svg


def test_every_legend_row_fits_and_an_empty_video_draws_no_broken_path():
    tables = {name: table([(0, 0.9)]) for name in ("yunet", "retinaface", "centerface", "pose")}
    svg = timeline_svg(3, tables, dict.fromkeys(tables, 0.5), regions([(0, "yunet"), (1, "temporal_fill")]),
                       pd.DataFrame({"frame_index": [2]}))
    root = ET.fromstring(svg)
    height = float(root.get("height"))
    legend_y = [float(t.get("y")) for t in root.iter(f"{SVG}text") if "faces" in (t.text or "") or
                "regions" in (t.text or "") or "flags" in (t.text or "")]
    assert len(legend_y) == 7 and max(legend_y) < height
    empty = timeline_svg(0, {"yunet": table([])}, {"yunet": 0.5}, regions([]), pd.DataFrame({"frame_index": []}))
    assert all(p.get("d", "M").startswith("M") for p in ET.fromstring(empty).iter(f"{SVG}path"))
