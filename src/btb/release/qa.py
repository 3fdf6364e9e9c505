"""QA reports (HTML, self-contained): per video a timeline of detections and regions, counts, and the review
items with their time range and a strip of thumbnails taken from the de-identified output only (the flagged box
itself pixelated: a flag may be an unblurred face, and a report never shows one).
"""

from __future__ import annotations

import base64
import html
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from btb.audit.io import write_text
from btb.regions.boxes import iou_matrix
from btb.regions.tables import arrays_by_frame

MAX_ITEMS = 40  # items a report shows (all are in review_items.tsv)
STRIP = 4  # thumbnails per item


# what the names in an item's detectors column mean (the reviewer page shows the same text)
DETECTOR_LEGEND = (
    "Detectors: <b>yunet:input</b>, <b>retinaface:input</b>: a face the detector found on the input that the blur "
    "does not cover; <b>pose</b>: a head the body-landmark locator places there; <b>motion</b>: a region moving "
    "too fast for the detectors; <b>render</b>: the file does not show the blur its regions say (a pipeline or "
    "encoder fault, not a judgement on a face: no approval releases it; reject the video or run it again).")


def _agree(a: np.ndarray, b: np.ndarray, match_iou: float) -> bool:
    m = iou_matrix(a, b)
    return len(a) == len(b) and (not len(a) or bool((m >= match_iou).any(axis=1).all() and
                                                   (m >= match_iou).any(axis=0).all()))


def disagreements(tables: dict[str, pd.DataFrame], thresholds: dict[str, float], n_frames: int,
                  match_iou: float = 0.3) -> list[int]:
    """Frames where a confident face of one detector has no counterpart (IoU >= match_iou) in another one
    (or the detectors count different faces). ``tables``: detector name -> detection table."""
    boxes = {name: arrays_by_frame(t[t.score >= thresholds[name]], ["x", "y", "w", "h"])
             for name, t in tables.items()}
    names = list(boxes)
    none = np.zeros((0, 4))
    out = []
    for f in sorted(set().union(*(set(b) for b in boxes.values()))):
        if f >= n_frames:
            continue
        if not all(_agree(boxes[a].get(f, none), boxes[b].get(f, none), match_iou)
                   for i, a in enumerate(names) for b in names[i + 1:]):
            out.append(f)
    return out


COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#9467bd", "#8c564b", "#e377c2", "#17becf")
SVG_W, PLOT_H, MARGIN_L, MARGIN_R, MARGIN_T = 900, 172, 44, 10, 10  # the legend's rows add to the height


def _nice_ticks(top: float, most: int = 6) -> list[int]:
    """Round tick values from 0 to ``top`` (at most about ``most``)."""
    if top <= 0:
        return [0]
    raw = top / most
    mag = 10 ** int(np.floor(np.log10(raw))) if raw >= 1 else 1
    step = next(m * mag for m in (1, 2, 5, 10) if m * mag >= raw)
    return list(range(0, int(top) + 1, int(step)))


def _steps(counts: np.ndarray, columns: int) -> list[tuple[float, int]]:
    """(frame, value) where a per-frame count changes (and at both ends), for a step line. A video with more
    frames than twice the plot's ``columns`` is first reduced to the largest count in each column, so a long
    video's report stays small and a one-frame peak still shows."""
    if not len(counts):
        return []
    x = np.arange(len(counts), dtype=np.float64)
    if len(counts) > 2 * columns:
        starts = np.linspace(0, len(counts), columns + 1)[:-1].astype(np.int64)
        x, counts = x[starts], np.maximum.reduceat(counts, starts)
    change = np.flatnonzero(np.diff(counts)) + 1
    keep = np.unique(np.concatenate([[0], change, [len(counts) - 1]]))
    return [(float(x[k]), int(counts[k])) for k in keep]


def timeline_svg(n_frames: int, tables: dict[str, pd.DataFrame], thresholds: dict[str, float],
                 regions: pd.DataFrame, flags: pd.DataFrame) -> str:
    """The timeline as inline SVG: per frame, each detector's confident faces, the detected and the temporal
    regions, and the residual flags. Drawn here rather than with matplotlib, whose import and rendering took
    about 1 s of every video's QA job (half of it on a 275-frame clip)."""
    series: list[tuple[str, np.ndarray, str]] = []
    for k, (name, t) in enumerate(tables.items()):
        counts = np.bincount(t.loc[t.score >= thresholds[name], "frame_index"].to_numpy(dtype=np.int64),
                             minlength=n_frames)[:n_frames]
        series.append((f"{name} faces ≥ {thresholds[name]}", counts, COLOURS[k % len(COLOURS)]))
    temporal = regions.source.astype(str).str.startswith("temporal").to_numpy(dtype=bool)
    det = np.bincount(regions.frame_index.to_numpy(dtype=np.int64)[~temporal], minlength=n_frames)[:n_frames]
    tmp = np.bincount(regions.frame_index.to_numpy(dtype=np.int64)[temporal], minlength=n_frames)[:n_frames]
    series.append(("regions (detected)", det, "#444"))
    top = max([1, *(int(c.max()) for _, c, _ in series if len(c)), int(tmp.max()) if len(tmp) else 0])
    pw, ph = SVG_W - MARGIN_L - MARGIN_R, PLOT_H
    span = max(n_frames - 1, 1)

    def px(f: float) -> float:
        return round(MARGIN_L + pw * f / span, 1)

    def py(v: float) -> float:
        return round(MARGIN_T + ph * (1 - v / (top * 1.08)), 1)

    def step_path(points: list[tuple[float, int]]) -> str:
        out = [f"M{px(points[0][0])},{py(points[0][1])}"]
        for f, v in points[1:]:
            out.append(f"H{px(max(f - 0.5, 0))}V{py(v)}")
        return "".join(out) + f"H{px(span)}"

    plot: list[str] = []
    legend: list[tuple[str, str, str]] = []
    if tmp.any():
        plot.append(f'<path d="{step_path(_steps(tmp, pw))}V{py(0)}H{px(0)}Z" fill="#d62728" '
                    f'fill-opacity="0.25" stroke="none"/>')
        legend.append(("regions (temporal fill/extend/continue)", "#d62728", "area"))
    for label, counts, colour in series:
        if len(counts):
            plot.append(f'<path d="{step_path(_steps(counts, pw))}" fill="none" stroke="{colour}" '
                        f'stroke-width="1.5"/>')
        legend.append((label, colour, "line"))
    if len(flags):
        cols = sorted({px(f) for f in flags["frame_index"].to_numpy(dtype=np.int64)})
        y0 = MARGIN_T + ph - 8  # downward triangles along the bottom of the plot
        plot.append('<g fill="red">' + "".join(f'<path d="M{x - 3},{y0}L{x + 3},{y0}L{x},{y0 + 6}Z"/>'
                                              for x in cols) + "</g>")
        legend.append(("residual flags", "red", "mark"))
    legend_top = MARGIN_T + ph + 38
    height = legend_top + 12 * ((len(legend) + 2) // 3) - 6
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{SVG_W}" height="{height}" '
             f'viewBox="0 0 {SVG_W} {height}" font-family="sans-serif" font-size="10" role="img" '
             f'aria-label="timeline">',
             f'<rect x="{MARGIN_L}" y="{MARGIN_T}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for v in _nice_ticks(top):
        parts.append(f'<line x1="{MARGIN_L - 3}" x2="{MARGIN_L}" y1="{py(v)}" y2="{py(v)}" stroke="#999"/>'
                     f'<text x="{MARGIN_L - 5}" y="{py(v) + 3}" text-anchor="end">{v}</text>')
    for f in _nice_ticks(span):
        parts.append(f'<line x1="{px(f)}" x2="{px(f)}" y1="{MARGIN_T + ph}" y2="{MARGIN_T + ph + 3}" '
                     f'stroke="#999"/><text x="{px(f)}" y="{MARGIN_T + ph + 13}" text-anchor="middle">{f}</text>')
    parts.append(f'<text x="{MARGIN_L + pw / 2}" y="{MARGIN_T + ph + 25}" text-anchor="middle">frame</text>'
                 f'<text transform="translate(12,{MARGIN_T + ph / 2}) rotate(-90)" text-anchor="middle">count</text>')
    parts += plot
    for k, (label, colour, kind) in enumerate(legend):
        x, y = MARGIN_L + (k % 3) * 290, legend_top + (k // 3) * 12
        mark = (f'<rect x="{x}" y="{y - 7}" width="14" height="8" fill="{colour}" fill-opacity="0.3"/>'
                if kind == "area" else f'<line x1="{x}" x2="{x + 14}" y1="{y - 3}" y2="{y - 3}" stroke="{colour}" '
                f'stroke-width="{3 if kind == "mark" else 1.5}"/>')
        parts.append(f'{mark}<text x="{x + 18}" y="{y}">{html.escape(label)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def strip_frames(item_flags: pd.DataFrame, n: int = STRIP) -> list[int]:
    """Up to ``n`` frames that show an item: its first, strongest and last flagged frames, and frames evenly
    between them."""
    frames = sorted(int(f) for f in item_flags["frame_index"].unique())
    best = int(item_flags.loc[item_flags["score"].idxmax(), "frame_index"])
    picks = {frames[0], best, frames[-1]}
    for f in np.array(frames)[np.linspace(0, len(frames) - 1, n).round().astype(int)]:
        if len(picks) >= n:
            break
        picks.add(int(f))
    return sorted(picks)[:n]


def crop_thumb(img: np.ndarray, box: Any, frame_flags: pd.DataFrame) -> str:
    """A crop around ``box`` from a frame of the de-identified output (never the input), with every flagged
    box of the frame pixelated: a flag may be an unblurred face, and a report never shows one. PNG, base64."""
    h, w = img.shape[:2]
    m = 0.5 * max(box.w, box.h)
    x0, y0 = int(max(0, box.x - m)), int(max(0, box.y - m))
    x1, y1 = int(min(w, box.x + box.w + m)), int(min(h, box.y + box.h + m))
    crop = img[y0:y1, x0:x1].copy()
    for other in frame_flags.itertuples():
        px, py = 0.2 * other.w, 0.2 * other.h  # detector boxes can be tighter than the face
        fx0, fy0 = int(max(0, other.x - px - x0)), int(max(0, other.y - py - y0))
        fx1 = int(min(crop.shape[1], np.ceil(other.x + other.w + px - x0)))
        fy1 = int(min(crop.shape[0], np.ceil(other.y + other.h + py - y0)))
        if fx1 > fx0 and fy1 > fy0:
            small = cv2.resize(crop[fy0:fy1, fx0:fx1], (4, 4), interpolation=cv2.INTER_AREA)
            crop[fy0:fy1, fx0:fx1] = cv2.resize(small, (fx1 - fx0, fy1 - fy0), interpolation=cv2.INTER_NEAREST)
    cv2.rectangle(crop, (int(box.x - x0), int(box.y - y0)), (int(box.x - x0 + box.w), int(box.y - y0 + box.h)),
                  (0, 0, 255), 1)
    scale = 120 / max(crop.shape[:2])
    crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".png", crop)
    return base64.b64encode(buf.tobytes()).decode() if ok else ""


def item_strips(frames: Iterable[tuple[int, np.ndarray]], items: pd.DataFrame, flags: pd.DataFrame,
                max_items: int = MAX_ITEMS) -> dict[int, list[tuple[int, str]]]:
    """Item number -> [(frame, thumbnail)] for the first ``max_items`` items (open ones first), made while
    ``frames`` (index, pixels of the de-identified output) stream past: no frame is kept."""
    shown = shown_items(items, max_items)
    wanted: dict[int, list[Any]] = {}
    for number in shown["item"]:
        g = flags[flags["item"] == number]
        for f in strip_frames(g):
            row = g[g["frame_index"] == f].sort_values("score").iloc[-1]
            wanted.setdefault(f, []).append((int(number), row))
    strips: dict[int, list[tuple[int, str]]] = {int(n): [] for n in shown["item"]}
    for index, img in frames:
        for number, row in wanted.get(index, []):
            strips[number].append((index, crop_thumb(img, row, flags[flags["frame_index"] == index])))
        if len(wanted) and index >= max(wanted):
            break
    return strips


def shown_items(items: pd.DataFrame, max_items: int = MAX_ITEMS) -> pd.DataFrame:
    """The items a report shows: open ones first, then dismissed, each by time."""
    order = items.assign(_d=(items["status"] != "open").astype(int)).sort_values(["_d", "first_frame", "item"])
    return order.drop(columns="_d").head(max_items)


def write_video_report(out: str | Path, video_id: str, n_frames: int, tables: dict[str, pd.DataFrame],
                       thresholds: dict[str, float], regions: pd.DataFrame, flags: pd.DataFrame,
                       verdict: dict[str, Any], items: pd.DataFrame,
                       strips: dict[int, list[tuple[int, str]]]) -> None:
    dis = disagreements(tables, thresholds, n_frames)
    counts = {
        "frames": n_frames,
        "blur regions": len(regions),
        "regions from temporal coverage": int(regions.source.str.startswith("temporal").sum()),
        "frames with a region": int(regions.frame_index.nunique()),
        "frames where the detectors disagreed": len(dis),
        "residual flags": len(flags),
        "review items (open)": int((items["status"] == "open").sum()),
        "review items set aside": int((items["status"] != "open").sum()),
        "verdict": verdict["verdict"],
    }
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in counts.items())
    shown = shown_items(items)
    item_rows = "".join(
        f'<tr class="s-{html.escape(str(it.status))}"><td>{int(it.item)}</td>'
        f"<td>{html.escape(str(it.status))}{(' (' + html.escape(str(it.reason)) + ')') if it.reason else ''}</td>"
        f"<td>{html.escape(str(it.start))}–{html.escape(str(it.end))}</td><td>{int(it.frames)}</td>"
        f"<td>{html.escape(str(it.detectors))}</td><td>{float(it.max_score):.2f}</td><td>"
        + "".join(f'<figure><img alt="frame {f}" src="data:image/png;base64,{b}"><figcaption>frame {f}'
                  "</figcaption></figure>" for f, b in strips.get(int(it.item), []))
        + "</td></tr>" for it in shown.itertuples())
    more = f"<p>{len(items) - len(shown)} more item(s) in review_items.tsv</p>" if len(items) > len(shown) else ""
    more += f"<p>{DETECTOR_LEGEND}</p>" if len(items) else ""
    items_html = (f"<table><tr><th>item</th><th>status</th><th>time (mm:ss)</th><th>frames</th><th>detectors"
                  f"</th><th>max score</th><th>from the de-identified output</th></tr>{item_rows}</table>{more}"
                  if len(items) else "<p>none</p>")
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>QA {html.escape(video_id)}</title>
<style>body{{font-family:sans-serif;max-width:1100px;margin:1em auto}}table{{border-collapse:collapse}}
th,td{{border:1px solid #ccc;padding:3px 8px;text-align:left;vertical-align:top}}
figure{{display:inline-block;margin:2px}}figcaption{{font-size:70%}}.s-dismissed{{color:#777}}
.v-pass{{color:#060}}.v-needs_review{{color:#a00}}</style></head><body>
<h1>QA report: {html.escape(video_id)} <span class="v-{verdict['verdict']}">{verdict['verdict']}</span></h1>
<table>{rows}</table>
<h2>Timeline</h2>{timeline_svg(n_frames, tables, thresholds, regions, flags)}
<h2>Review items</h2>
<p>Flags grouped across frames into what a reviewer decides once; items set aside say why (docs/review.md).
Thumbnails come from the de-identified output with the flagged box pixelated: open the output at that time
to judge it.</p>{items_html}
</body></html>"""
    write_text(out, page)
