from pathlib import Path

from btb.eval_stages import score_video_set
from btb.workflow_adapter import run


def clips(s):
    out = {}
    for i, vid in enumerate(s.params.clips):
        out[vid.removeprefix("eval-")] = {
            "gt": s.input.gt[i], "yunet": s.input.yunet[i], "retinaface": s.input.retinaface[i],
            "centerface": s.input.centerface[i],
            "frames": s.input.frames[i], "probe": s.input.probe[i],
            "audit_dir": str(Path(s.input.yunet[i]).parents[1] / "audit"),
        }
    return out


run(snakemake, lambda s: score_video_set(clips(s), dict(s.params.merge), s.output[0]))
