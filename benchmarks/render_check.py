"""Calibration of the render check (``verify.render``, ``btb.release.render``) on the videos of a finished run.

    .venv/bin/python benchmarks/render_check.py --results RESULTS --samples SHEET [--configfile CFG] \
        [--out benchmarks/results/render_check.json]

For each video (its de-identified output, region table and input), three comparisons, every frame:

- **blurred**: the share of the removed detail each judged region of the real output kept (``region_flags``
  with every judged region reported), and frames with changed pixels outside the blur;
- **blur dropped**: the same regions on the input encoded with the pipeline's own encoder and settings but an
  empty region table (what an encoder that drops the blur would write), in a temporary folder;
- **out of step**: each output frame against the *previous* input frame, for changed pixels outside the blur.

Reported per video and in total: the largest share kept by a blurred region and how many reach
``max_kept``; for the dropped blur, how many judged regions reach ``max_kept`` and percentiles; frames flagged
aligned and out of step. Shares are those of the judged regions (``min_detail``) whose share is above 0 (a
region whose output is closer to the rendering than compression noise alone has a share at or below 0 and is
not counted): ``counted``. Only numbers are written; the temporary encodes are deleted.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from btb.config import defaults, load_config, stage_config  # noqa: E402
from btb.regions.blur import BlurParams, blur_frame, region_mask  # noqa: E402
from btb.regions.tables import empty_regions, read_regions, regions_by_frame, write_regions  # noqa: E402
from btb.release.render import RenderParams, _grey, changed_outside, region_flags  # noqa: E402
from btb.samples import read_sample_sheet  # noqa: E402
from btb.stages.blur import encode_output  # noqa: E402
from btb.video.frames import iter_normalised  # noqa: E402


def shares(output: str, source: str, by_frame: dict[int, Any], blur: BlurParams, every: RenderParams,
           flag: RenderParams, lag: bool) -> dict[str, Any]:
    """Shares kept by every judged region of ``output``, and frames flagged for changed pixels (aligned, and,
    with ``lag``, against the previous input frame)."""
    kept: list[float] = []
    aligned = lagged = frames = 0
    previous = None
    for out, src in zip(iter_normalised(output), iter_normalised(source), strict=True):
        regs = by_frame.get(out.index)
        go, gi = _grey(out.image), _grey(src.image)
        mask = region_mask(*go.shape, regs) if regs is not None else np.zeros(go.shape, bool)
        aligned += bool(changed_outside(out.index, go, gi, mask, flag))
        if lag and previous is not None:
            lagged += bool(changed_outside(out.index, go, previous, mask, flag))
        if regs is not None:
            rendered = _grey(blur_frame(src.image, regs, blur))
            kept += [r[2] for r in region_flags(out.index, go, gi, rendered, regs, every, mask)]
        previous = gi
        frames += 1
    return {"kept": kept, "frames": frames, "aligned_flagged": aligned, "lagged_flagged": lagged}


def summary(kept: list[float], max_kept: float) -> dict[str, Any]:
    k = np.asarray(kept, dtype=np.float64)
    if not len(k):
        return {"counted": 0}
    p1, p50, p99 = np.percentile(k, [1, 50, 99])
    return {"counted": int(len(k)), "min": round(float(k.min()), 3), "p1": round(float(p1), 3),
            "p50": round(float(p50), 3), "p99": round(float(p99), 3), "max": round(float(k.max()), 3),
            "at_or_above_max_kept": int((k >= max_kept).sum())}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--results", required=True, type=Path, help="results folder of a finished run")
    ap.add_argument("--samples", required=True, help="the run's sample sheet (video_id, path)")
    ap.add_argument("--configfile", help="the run's configuration (default: the defaults)")
    ap.add_argument("--out", type=Path)
    args = ap.parse_args()
    cfg = stage_config(load_config(args.configfile) if args.configfile else defaults())
    settings = {k: v for k, v in cfg["verify"]["render"].items() if k != "enabled"}
    flag = RenderParams(**settings)
    every = RenderParams(**{**settings, "max_kept": 1e-9})  # report every judged region's share
    blur = BlurParams(**cfg["blur"])
    videos: dict[str, Any] = {}
    blurred_all: list[float] = []
    dropped_all: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        for sample in read_sample_sheet(args.samples):
            res = args.results / sample.video_id
            output = res / f"{sample.video_id}.deid.mp4"
            if not output.is_file() or not (res / "regions.parquet").is_file():
                continue
            by_frame = regions_by_frame(read_regions(res / "regions.parquet"))
            real = shares(str(output), str(sample.path), by_frame, blur, every, flag, lag=True)
            work = Path(tmp) / sample.video_id
            work.mkdir()
            empty = work / "regions.parquet"
            write_regions(empty_regions(), empty)
            encode_output(blurred=[], video=str(sample.path), probe_json=str(res / "probe.json"),
                          frame_table=str(res / "frames.tsv"), out=str(work / "dropped.mp4"),
                          check_json=str(work / "check.json"), audit=str(work / "audit.json"),
                          video_id=sample.video_id, encode=cfg["encode"], threads=2, regions=str(empty),
                          blur=cfg["blur"])
            dropped = shares(str(work / "dropped.mp4"), str(sample.path), by_frame, blur, every, flag, lag=False)
            (work / "dropped.mp4").unlink()
            blurred_all += real["kept"]
            dropped_all += dropped["kept"]
            videos[sample.video_id] = {
                "frames": real["frames"], "blurred": summary(real["kept"], flag.max_kept),
                "blur_dropped": summary(dropped["kept"], flag.max_kept),
                "frames_flagged_aligned": real["aligned_flagged"],
                "frames_flagged_out_of_step": real["lagged_flagged"]}
            v = videos[sample.video_id]
            print(f"{sample.video_id:<45} blurred max {v['blurred'].get('max')}  dropped p1 "
                  f"{v['blur_dropped'].get('p1')} ({v['blur_dropped'].get('at_or_above_max_kept')} of "
                  f"{v['blur_dropped'].get('counted')} flagged)  out of step {real['lagged_flagged']}/"
                  f"{real['frames'] - 1}", flush=True)
    total = {"frames": sum(v["frames"] for v in videos.values()),
             "blurred": summary(blurred_all, flag.max_kept), "blur_dropped": summary(dropped_all, flag.max_kept),
             "frames_flagged_aligned": sum(v["frames_flagged_aligned"] for v in videos.values()),
             "frames_flagged_out_of_step": sum(v["frames_flagged_out_of_step"] for v in videos.values()),
             "frames_compared_out_of_step": sum(v["frames"] - 1 for v in videos.values())}
    print(json.dumps(total))
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "render": settings, "total": total,
                                        "videos": videos}, indent=1) + "\n")


if __name__ == "__main__":
    main()
