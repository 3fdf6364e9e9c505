"""QA reports (HTML, self-contained): per video a timeline of detections and regions, counts, and the review
items with their time range and a strip of thumbnails taken from the de-identified output only (the flagged box
itself pixelated: a flag may be an unblurred face, and a report never shows one).
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from btb.audit.io import write_text
from btb.regions.boxes import iou_matrix

MAX_ITEMS = 40  # items a report shows (all are in review_items.tsv)
STRIP = 4  # thumbnails per item


# what the names in an item's detectors column mean (the reviewer page shows the same text)
DETECTOR_LEGEND = (
    "Detectors: <b>yunet:input</b>, <b>retinaface:input</b>: a face the detector found on the input that the blur "
    "does not cover; <b>pose</b>: a head the body-landmark locator places there; <b>motion</b>: a region moving "
    "too fast for the detectors; <b>render</b>: the file does not show the blur its regions say (a pipeline or "
    "encoder fault, not a judgement on a face: no approval releases it; reject the video or run it again).")


def _png(fig: Any) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    return base64.b64encode(buf.getvalue()).decode()


def _agree(a: np.ndarray, b: np.ndarray, match_iou: float) -> bool:
    m = iou_matrix(a, b)
    return len(a) == len(b) and (not len(a) or bool((m >= match_iou).any(axis=1).all() and
                                                   (m >= match_iou).any(axis=0).all()))


def disagreements(tables: dict[str, pd.DataFrame], thresholds: dict[str, float], n_frames: int,
                  match_iou: float = 0.3) -> list[int]:
    """Frames where a confident face of one detector has no counterpart (IoU >= match_iou) in another one
    (or the detectors count different faces). ``tables``: detector name -> detection table."""
    boxes = {name: {int(k): g[["x", "y", "w", "h"]].to_numpy()
                    for k, g in t[t.score >= thresholds[name]].groupby("frame_index")}
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


def timeline_png(n_frames: int, tables: dict[str, pd.DataFrame], thresholds: dict[str, float],
                 regions: pd.DataFrame, flags: pd.DataFrame) -> str:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(9, 2.6))
    x = np.arange(n_frames)
    for name, t in tables.items():
        counts = np.bincount(t.loc[t.score >= thresholds[name], "frame_index"], minlength=n_frames)[:n_frames]
        ax.step(x, counts, where="mid", label=f"{name} faces ≥ {thresholds[name]}")
    det = regions[~regions.source.str.startswith("temporal")]
    tmp = regions[regions.source.str.startswith("temporal")]
    ax.step(x, np.bincount(det.frame_index, minlength=n_frames)[:n_frames], where="mid", label="regions (detected)",
            lw=2, alpha=0.6)
    if len(tmp):
        ax.bar(x, np.bincount(tmp.frame_index, minlength=n_frames)[:n_frames], width=1.0, alpha=0.3,
               label="regions (temporal fill/extend/continue)")
    if len(flags):
        ax.plot(flags.frame_index, np.zeros(len(flags)) - 0.2, "rv", label="residual flags")
    ax.set(xlabel="frame", ylabel="count", xlim=(0, max(n_frames - 1, 1)))
    ax.legend(fontsize=7, ncol=3, loc="upper right")
    fig.tight_layout()
    out = _png(fig)
    plt.close(fig)
    return out


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
<h2>Timeline</h2><img alt="timeline" src="data:image/png;base64,{
        timeline_png(n_frames, tables, thresholds, regions, flags)}">
<h2>Review items</h2>
<p>Flags grouped across frames into what a reviewer decides once; items set aside say why (docs/review.md).
Thumbnails come from the de-identified output with the flagged box pixelated: open the output at that time
to judge it.</p>{items_html}
</body></html>"""
    write_text(out, page)
