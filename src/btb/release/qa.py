"""QA reports (HTML, self-contained): per video a timeline of detections and regions, the frames where the
detectors disagreed, thumbnails of flagged spots taken from the de-identified output only (the flagged box
itself pixelated: a flag may be an unblurred face, and a report never shows one), and counts.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pandas as pd

from btb.audit.io import write_text
from btb.regions.boxes import iou_matrix

MAX_THUMBS = 12


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


def thumbnails(output_frames: dict[int, np.ndarray], flags: pd.DataFrame) -> list[tuple[int, str]]:
    """Crops around flagged boxes, from frames of the de-identified output (never the input)."""
    thumbs = []
    for row in flags.sort_values("score", ascending=False).drop_duplicates("frame_index").head(MAX_THUMBS)\
            .itertuples():
        img = output_frames.get(int(row.frame_index))
        if img is None:
            continue
        h, w = img.shape[:2]
        m = 0.5 * max(row.w, row.h)
        x0, y0 = int(max(0, row.x - m)), int(max(0, row.y - m))
        x1, y1 = int(min(w, row.x + row.w + m)), int(min(h, row.y + row.h + m))
        crop = img[y0:y1, x0:x1].copy()
        # every flagged spot of the frame is pixelated here (a neighbour's too, should it fall in the crop):
        # the report shows where to look, never a face
        for other in flags[flags.frame_index == row.frame_index].itertuples():
            px, py = 0.2 * other.w, 0.2 * other.h  # detector boxes can be tighter than the face
            fx0, fy0 = int(max(0, other.x - px - x0)), int(max(0, other.y - py - y0))
            fx1 = int(min(crop.shape[1], np.ceil(other.x + other.w + px - x0)))
            fy1 = int(min(crop.shape[0], np.ceil(other.y + other.h + py - y0)))
            if fx1 > fx0 and fy1 > fy0:
                small = cv2.resize(crop[fy0:fy1, fx0:fx1], (4, 4), interpolation=cv2.INTER_AREA)
                crop[fy0:fy1, fx0:fx1] = cv2.resize(small, (fx1 - fx0, fy1 - fy0), interpolation=cv2.INTER_NEAREST)
        cv2.rectangle(crop, (int(row.x - x0), int(row.y - y0)), (int(row.x - x0 + row.w), int(row.y - y0 + row.h)),
                      (0, 0, 255), 1)
        scale = 160 / max(crop.shape[:2])
        crop = cv2.resize(crop, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
        ok, buf = cv2.imencode(".png", crop)
        if ok:
            thumbs.append((int(row.frame_index), base64.b64encode(buf.tobytes()).decode()))
    return thumbs


def write_video_report(out: str | Path, video_id: str, n_frames: int, tables: dict[str, pd.DataFrame],
                       thresholds: dict[str, float], regions: pd.DataFrame, flags: pd.DataFrame,
                       verdict: dict[str, Any], output_frames: dict[int, np.ndarray]) -> None:
    dis = disagreements(tables, thresholds, n_frames)
    counts = {
        "frames": n_frames,
        "blur regions": len(regions),
        "regions from temporal coverage": int(regions.source.str.startswith("temporal").sum()),
        "frames with a region": int(regions.frame_index.nunique()),
        "frames where the detectors disagreed": len(dis),
        "residual flags": len(flags),
        "verdict": verdict["verdict"],
    }
    rows = "".join(f"<tr><th>{html.escape(k)}</th><td>{html.escape(str(v))}</td></tr>" for k, v in counts.items())
    thumbs = "".join(f'<figure><img src="data:image/png;base64,{b}"><figcaption>frame {f}</figcaption></figure>'
                     for f, b in thumbnails(output_frames, flags))
    dis_txt = ", ".join(map(str, dis[:200])) + (" …" if len(dis) > 200 else "") if dis else "none"
    page = f"""<!doctype html><html><head><meta charset="utf-8"><title>QA {html.escape(video_id)}</title>
<style>body{{font-family:sans-serif;max-width:980px;margin:1em auto}}table{{border-collapse:collapse}}
th,td{{border:1px solid #ccc;padding:3px 8px;text-align:left}}figure{{display:inline-block;margin:4px}}
.v-pass{{color:#060}}.v-needs_review{{color:#a00}}</style></head><body>
<h1>QA report: {html.escape(video_id)} <span class="v-{verdict['verdict']}">{verdict['verdict']}</span></h1>
<table>{rows}</table>
<h2>Timeline</h2><img alt="timeline" src="data:image/png;base64,{
        timeline_png(n_frames, tables, thresholds, regions, flags)}">
<h2>Frames where the detectors disagreed</h2><p>{dis_txt}</p>
<h2>Flagged frames (from the de-identified output; the flagged box is pixelated here — open the output at
that frame to judge it)</h2>{thumbs or "<p>none</p>"}
</body></html>"""
    write_text(out, page)
