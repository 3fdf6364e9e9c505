"""The evaluation report: Markdown (the seed study's tables first, then ours), JSON, and plots.

Plots show curves and timelines only; no image in a report ever shows a face.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from btb.audit.io import utc_now, write_json, write_text
from btb.audit.records import git_state
from btb.evaluation.methods import SPECS

SETTINGS = ("easy", "medium", "hard", "all")


def _f(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _table(header: list[str], rows: list[list[Any]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_f(c) if not isinstance(c, str) else c for c in r) + " |" for r in rows]
    return "\n".join(lines)


def _method_seconds(sec: dict[str, float], method: str, share_second: float) -> float | None:
    """Seconds a method costs: its detectors (a cascade's second stage scaled by the share of items it is
    sent), plus frame indexing and blurring where measured. Merging takes milliseconds and is listed apart."""
    spec = SPECS[method]
    if any(f"detect_{d}" not in sec for d in spec.detectors):
        return None
    det = sum(sec[f"detect_{d}"] for d in spec.every) + share_second * sum(sec[f"detect_{d}"] for d in spec.selected)
    return det + sec.get("blur_union", 0.0) + sec.get("index_frames", 0.0)


def _commit(repo: str | Path) -> str:
    """The workflow's commit as the report names it, saying so when the tree had uncommitted changes."""
    state = git_state(repo)
    return f"{state.get('commit')}" + (" (with uncommitted changes)" if state.get("dirty") else "")


def legend(methods: list[str]) -> str:
    return "Methods: " + "; ".join(f"`{m}` {SPECS[m].about}" for m in methods) + "."


def image_section(r: dict[str, Any], plots: Path) -> str:
    name, m = r["set"], r["methods"]
    methods = list(m)
    share = r["cascade_images"] / r["images"] if r["images"] else 0.0
    out = [f"## Image set `{name}` ({r['images']} images, {r['faces']} valid faces)", "",
           "### The seed study's table", "",
           _table(["method", "seed \"accuracy\" (count matches)", "time to blur the set (s): detection + blur"],
                  [[k, m[k]["seed_accuracy"], _method_seconds(r["seconds"], k, share)] for k in methods]), "",
           f"Cascade sent {r['cascade_images']} of {r['images']} images to its second stage; its time counts the "
           "second-stage detectors on that share. Never tune for the count \"accuracy\": it moves against recall.",
           "",
           "### Privacy metric (coverage ≥ 0.8 protects a face)", "",
           _table(["method", "recall@0.8", "recall@0.8 (≥20 px)", "recall@0.5", "exposed images",
                   "blur-area ratio", "regions touching no face"],
                  [[k, m[k]["all"]["recall_at_0_8"], m[k]["min_side"]["recall_at_0_8"],
                    m[k]["all"]["recall_at_0_5"], m[k]["all"]["exposed_images"], m[k]["all"]["blur_area_ratio"],
                    m[k]["share_regions_touching_no_face"]] for k in methods]), "",
           "### Recall@0.8 by face size (shorter side of the labeled box)", ""]
    bands = [f"{int(b['lo'])}–{'' if b['hi'] is None else int(b['hi'])} px ({b['faces']})"
             for b in m["union"]["recall_by_size"]]
    out += [_table(["method", *bands], [[k, *[b["recall_at_0_8"] for b in m[k]["recall_by_size"]]]
                                        for k in methods]), ""]
    settings = [s for s in SETTINGS if any(s in v for v in r["ap"].values())]
    out += ["### WIDER AP (IoU 0.5, official procedure) per detector", "",
            _table(["detector", *settings], [[d, *[v.get(s, {}).get("ap") for s in settings]]
                                             for d, v in r["ap"].items()]), "",
            f"![precision-recall]({plots.name}/pr_{name}.png) ![recall by size]({plots.name}/size_{name}.png)", "",
            "### Seconds per image", "",
            _table(["stage", "s/image"], [[k, v] for k, v in r["seconds_per_image"].items()]), ""]
    return "\n".join(out)


def video_section(r: dict[str, Any], plots: Path) -> str:
    out = [f"## Labeled videos ({len(r['clips'])} clips, {r['frames']} frames)", "",
           "### The seed study's table", ""]
    share = r["cascade_frames"] / r["frames"] if r["frames"] else 0.0
    methods = r.get("methods") or list(next(iter(r["clips"].values()))["methods"])
    frames_with = {k: sum(c["methods"][k]["frames_with_region"] for c in r["clips"].values()) for k in methods}
    total_sec: dict[str, float] = {}
    for c in r["clips"].values():
        for k, v in c["seconds"].items():
            total_sec[k] = total_sec.get(k, 0.0) + v
    out += [_table(["method", "frames with a face blurred", "time (s, extraction + detection)"],
                   [[k, frames_with[k], _method_seconds(total_sec, k, share)] for k in methods]), "",
            f"Cascade sent {r['cascade_frames']} of {r['frames']} frames to its second stage.", ""]
    for g, figs in r["groups"].items():
        out += [f"### `{g}` ({len(figs['clips'])} clips, {figs['frames']} frames)", "",
                _table(["method", "recall@0.8", "recall@0.5", "exposed frames", "labeled faces", "blur-area ratio",
                        "of which on the labeled face", "share off the labeled face"],
                       [[k, figs[k]["recall_at_0_8"], figs[k]["recall_at_0_5"], figs[k]["exposed_frames"],
                         figs[k]["labeled_faces"], figs[k]["blur_area_ratio"], figs[k].get("face_blur_area_ratio"),
                         figs[k].get("off_face_blur_share")] for k in methods]), "",
                "Blur-area ratio counts every blurred pixel of a labeled frame; only one face per frame is labeled, "
                "so blur on other people (an audience, bystanders) counts as cost. The last two columns split it: "
                "the ratio from the regions that overlap the labeled face, and the share of blurred pixels "
                "elsewhere.", "",
                f"![timeline]({plots.name}/timeline_{g.replace('*', 'all')}.png)", ""]
    out += ["### Seconds per frame", "", _table(["stage", "s/frame"],
                                              [[k, v] for k, v in r["seconds_per_frame"].items()]), ""]
    return "\n".join(out)


def sweep_section(results: list[dict[str, Any]]) -> str:
    out = ["## Threshold sweep (one detector's threshold varied, the others at their defaults)", "",
           "`union` is YuNet + RetinaFace (a CenterFace threshold does not change it); `union3` adds CenterFace.", ""]
    for r in results:
        rows = []
        for row in r.get("sweep", []):
            d = row["detector"]
            if d not in (row if r["kind"] == "images" else next(iter(row[g] for g in row
                                                                     if g not in ("detector", "threshold")), {})):
                continue  # a detector scored in combination only (the head locator)
            if r["kind"] == "images":
                f, u, u3 = row[d], row["union"], row.get("union3", {})
                rows.append([d, row["threshold"], f["recall_at_0_8"], f["blur_area_ratio"], u["recall_at_0_8"],
                             u["recall_at_0_8_min_side"], u["blur_area_ratio"], u3.get("recall_at_0_8"),
                             u3.get("recall_at_0_8_min_side"), u3.get("blur_area_ratio")])
            else:
                for g in (k for k in row if k not in ("detector", "threshold")):
                    f, u, u3 = row[g][d], row[g]["union"], row[g].get("union3", {})
                    rows.append([f"{d} ({g})", row["threshold"], f["recall_at_0_8"], f["blur_area_ratio"],
                                 u["recall_at_0_8"], u["exposed_frames"], u["blur_area_ratio"],
                                 u3.get("recall_at_0_8"), u3.get("exposed_frames"), u3.get("blur_area_ratio")])
        if r["kind"] == "images":
            header = ["detector", "threshold", "alone rec@0.8", "alone blur ratio", "union rec@0.8",
                      "union rec@0.8 ≥20px", "union blur ratio", "union3 rec@0.8", "union3 rec@0.8 ≥20px",
                      "union3 blur ratio"]
        else:
            header = ["detector (group)", "threshold", "alone rec@0.8", "alone blur ratio", "union rec@0.8",
                      "union exposed", "union blur ratio", "union3 rec@0.8", "union3 exposed", "union3 blur ratio"]
        out += [f"### `{r['set']}`", "", _table(header, rows), ""]
    return "\n".join(out)


def plot_images(r: dict[str, Any], plots: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5, 4))
    for d, settings in r["ap"].items():
        for s, v in settings.items():
            pts = [(rc, p) for rc, p in zip(v["recall"], v["precision"], strict=True) if p is not None]
            if pts:
                ax.plot(*zip(*pts, strict=True), label=f"{d} {s} AP {v['ap']:.3f}")
    ax.set(xlabel="recall", ylabel="precision", title=f"WIDER PR, {r['set']}", xlim=(0, 1), ylim=(0, 1.02))
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(plots / f"pr_{r['set']}.png", dpi=110)
    plt.close(fig)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    bands = r["methods"]["union"]["recall_by_size"]
    methods = list(r["methods"])
    width = 0.8 / len(methods)
    for i, k in enumerate(methods):
        vals = [b["recall_at_0_8"] or 0 for b in r["methods"][k]["recall_by_size"]]
        ax.bar([j + i * width for j in range(len(vals))], vals, width, label=k)
    ax.set_xticks([j + 0.4 - width / 2 for j in range(len(bands))],
                  [f"{int(b['lo'])}–{'' if b['hi'] is None else int(b['hi'])}" for b in bands])
    ax.set(xlabel="face size (shorter side, px)", ylabel="recall@0.8", ylim=(0, 1.02),
           title=f"Recall by face size, {r['set']}")
    ax.legend(fontsize=7, ncol=3)
    fig.tight_layout()
    fig.savefig(plots / f"size_{r['set']}.png", dpi=110)
    plt.close(fig)


def plot_timelines(r: dict[str, Any], plots: Path, method: str = "union") -> None:
    """Per clip of each group: labeled face present (grey), protected (green), exposed (red), per frame."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    for g, figs in r["groups"].items():
        clips = figs["clips"]
        fig, axes = plt.subplots(len(clips), 1, figsize=(8, 0.7 * len(clips) + 0.8), squeeze=False)
        for ax, name in zip(axes[:, 0], clips, strict=True):
            c = r["clips"][name]
            ax.axhspan(0, 1, color="0.9")
            for f, cov in c["methods"][method]["timeline"]:
                if cov is not None:
                    ax.axvline(f, color="tab:green" if cov >= 0.8 else "tab:red", lw=1)
            ax.set(xlim=(0, c["frames"]), yticks=[])
            ax.set_ylabel(name, rotation=0, ha="right", fontsize=7)
        axes[-1, 0].set_xlabel(f"frame ({method}: green protected, red exposed, grey unlabeled)")
        fig.tight_layout()
        fig.savefig(plots / f"timeline_{g.replace('*', 'all')}.png", dpi=110)
        plt.close(fig)


def review_section(r: dict[str, Any]) -> str:
    """Verification's catch rate on the labeled clips (``btb.evaluation.catch``)."""
    rows = [[name, c["exposed_frames"], c["caught_frames"], c["set_aside_frames"], c["missed_frames"],
             c["caught_share"], c["open_items"], c["dismissed_items"], c["open_items_per_minute"]]
            for name, c in sorted(r["clips"].items())]
    t = r["total"]
    rows.append(["**all**", t["exposed_frames"], t["caught_frames"], t["set_aside_frames"], t["missed_frames"],
                 t["caught_frames"] / t["exposed_frames"] if t["exposed_frames"] else None, t["open_items"],
                 t["dismissed_items"], None])
    return "\n".join([
        "## Verification: exposed frames caught by review items", "",
        "Each labeled clip run through the whole pipeline at this configuration (merge, blur, encode, residual "
        "verification). An exposed frame (a labeled face < 0.8 covered) is caught when an open review item is on "
        "that face within 0.5 s, set aside when only a dismissed item is (the item says why), missed otherwise "
        "(a silent leak).", "",
        _table(["clip", "exposed frames", "caught", "set aside", "missed", "caught / exposed", "open items",
                "dismissed items", "open items per minute"], rows), ""])


def write_report(metrics_files: list[str], config: dict[str, Any], out_md: str, out_json: str,
                 plots_dir: str, repo: str = ".") -> None:
    results = [json.loads(Path(p).read_text()) for p in metrics_files]
    plots = Path(plots_dir)
    plots.mkdir(parents=True, exist_ok=True)
    merge = config["merge"]
    thr = merge["thresholds"]
    methods = [m for m in SPECS if any(m in (r["methods"] if r["kind"] == "images" else r.get("methods", []))
                                       for r in results)]
    parts = ["# Blur the Baby: evaluation report", "",
             f"Created {utc_now()}; workflow commit {_commit(repo)}. Thresholds: YuNet "
             f"{thr['yunet']}, RetinaFace {thr['retinaface']}"
             + (f", CenterFace {thr['centerface']}" if "centerface" in thr else "") + "; regions "
             f"{merge['shape']} ×{merge['enlarge']}. Metric definitions: coverage of a labeled face = share of its "
             "box inside the blurred pixels (per pixel); protected at ≥ 0.8; exposed frame/image = one with an "
             "unprotected labeled face; blur-area ratio = blurred area / labeled face area (labeled frames only).",
             "", legend(methods), ""]
    for r in results:
        if r["kind"] == "review":
            parts.append(review_section(r))
        elif r["kind"] == "images":
            plot_images(r, plots)
            parts.append(image_section(r, plots))
        else:
            plot_timelines(r, plots)
            parts.append(video_section(r, plots))
    parts.append(sweep_section([r for r in results if r["kind"] != "review"]))
    write_text(out_md, "\n".join(parts) + "\n")
    write_json(out_json, {"created_utc": utc_now(), "config": config, "results": results})
