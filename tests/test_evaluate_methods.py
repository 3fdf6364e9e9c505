"""The evaluation's method table (``btb.evaluate.SPECS``) on hand-made detections: which detector runs where."""

import pandas as pd
from test_merge import det

from btb.evaluation.methods import SPECS, method_regions, methods_for
from btb.release.qa import disagreements

MERGE = {"thresholds": {"yunet": 0.5, "retinaface": 0.2, "centerface": 0.2}, "fuse_iou": 0.4, "match_iou": 0.3,
         "enlarge": 1.0, "shape": "box", "cascade": {"uncertain_floor": 0.3, "neighbours": 0},
         "temporal": {"enabled": False}}


def tables():
    # frames 0-2: YuNet confident; 3-4: YuNet sees nothing. Uncertain: 2 and 3 (count change) and 4 (no face)
    return {"yunet": det("yunet", [(f, 10, 10, 20, 20, 0.9) for f in (0, 1, 2)]),
            "retinaface": det("retinaface", [(0, 100, 10, 20, 20, 0.9), (4, 100, 10, 20, 20, 0.9)]),
            "centerface": det("centerface", [(0, 150, 10, 20, 20, 0.9), (4, 150, 10, 20, 20, 0.9)])}


def test_methods_follow_the_tables_present():
    assert methods_for(["yunet", "retinaface"]) == ["yunet", "retinaface", "union", "cascade", "intersection"]
    assert methods_for(tables()) == [m for m, spec in SPECS.items() if "pose" not in spec.detectors]
    assert methods_for([*tables(), "pose"]) == list(SPECS)


def test_second_stage_detectors_see_only_the_uncertain_frames():
    regions, selection = method_regions(tables(), 5, 200, 200, MERGE)
    assert selection["frame_index"].tolist() == [2, 3, 4]

    def boxes(method):
        return sorted(map(tuple, regions[method][["frame_index", "x", "source"]].values.tolist()))

    yunet = [(0, 10, "yunet"), (1, 10, "yunet"), (2, 10, "yunet")]
    assert boxes("union3") == sorted(yunet + [(0, 100, "retinaface"), (0, 150, "centerface"),
                                              (4, 100, "retinaface"), (4, 150, "centerface")])
    assert boxes("cascade3") == sorted(yunet + [(4, 100, "retinaface"), (4, 150, "centerface")])
    assert boxes("cascade3_cf_all") == sorted(yunet + [(0, 150, "centerface"), (4, 100, "retinaface"),
                                                       (4, 150, "centerface")])
    assert boxes("cascade_yc") == sorted(yunet + [(4, 150, "centerface")])
    assert regions["intersection3"].empty  # no two detectors agree anywhere


def test_qa_disagreements_over_three_detectors():
    t = tables()
    assert disagreements({k: t[k] for k in ("yunet", "retinaface")}, MERGE["thresholds"], 5) == [0, 1, 2, 4]
    same = {name: det(name, [(0, 10, 10, 20, 20, 0.9)]) for name in ("yunet", "retinaface", "centerface")}
    assert disagreements(same, MERGE["thresholds"], 3) == []
    same["centerface"] = pd.concat([same["centerface"], det("centerface", [(1, 50, 50, 20, 20, 0.9)])])
    assert disagreements(same, MERGE["thresholds"], 3) == [1]
    assert disagreements(t, MERGE["thresholds"], 4) == [0, 1, 2]  # frames beyond the video are ignored


def test_report_names_a_tree_with_uncommitted_changes(tmp_path):
    """The report's commit line says when the evaluation ran from a tree that differs from its commit."""
    import subprocess

    from btb.evaluation.report import _commit

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(tmp_path), *args], check=True, capture_output=True,
                              text=True).stdout.strip()

    git("init", "-q")
    (tmp_path / "f.txt").write_text("a\n")
    git("add", "f.txt")
    git("-c", "user.name=t", "-c", "user.email=t@example.org", "commit", "-qm", "one")
    head = git("rev-parse", "HEAD")
    assert _commit(tmp_path) == head
    (tmp_path / "f.txt").write_text("b\n")
    assert _commit(tmp_path) == f"{head} (with uncommitted changes)"
