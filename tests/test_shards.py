"""btb shard: a large sample sheet split into shards that plan and run on their own."""

from __future__ import annotations

import shlex
import subprocess
import sys

import pytest
import yaml
from conftest import REPO

from btb.errors import InputError
from btb.samples import read_sample_sheet
from btb.shards import shard_config, shard_samples


def sheet(path, n, first=0):
    rows = "".join(f"v{i:03d}\tvideos/v{i:03d}.mp4\n" for i in range(first, first + n))
    path.write_text("video_id\tpath\n" + rows)
    return path


def test_shards_follow_the_sheet_order_with_absolute_paths(tmp_path):
    src = sheet(tmp_path / "all.tsv", 7)
    shards = shard_samples(src, tmp_path / "shards", 3)
    assert [s.folder.name for s in shards] == ["shard-0001", "shard-0002", "shard-0003"]
    assert [s.videos for s in shards] == [3, 3, 1] and all(s.changed for s in shards)
    got = [read_sample_sheet(s.sheet) for s in shards]
    assert [x.video_id for part in got for x in part] == [f"v{i:03d}" for i in range(7)]
    # relative paths were relative to the original sheet; the shard's sheet names them absolutely
    assert got[2][0].path == str(tmp_path / "videos" / "v006.mp4")


def test_appending_videos_rewrites_only_the_last_shard(tmp_path):
    src = sheet(tmp_path / "all.tsv", 7)
    out = tmp_path / "shards"
    first = shard_samples(src, out, 3)
    before = [s.sheet.stat().st_mtime_ns for s in first]
    assert not any(s.changed for s in shard_samples(src, out, 3))  # the same sheet again: nothing written
    assert [s.sheet.stat().st_mtime_ns for s in first] == before
    assert all(s.sheet.stat().st_mode & 0o777 == 0o600 for s in first)  # paths and ids: owner-only
    src.write_text(src.read_text() + "v100\tvideos/v100.mp4\nv101\tvideos/v101.mp4\nv102\tvideos/v102.mp4\n")
    again = shard_samples(src, out, 3)
    assert [s.changed for s in again] == [False, False, True, True]
    assert [s.videos for s in again] == [3, 3, 3, 1]


@pytest.mark.parametrize("change", ["other size", "row removed", "rows reordered", "row inserted", "shorter"])
def test_a_change_that_would_move_a_video_between_shards_is_refused(tmp_path, change):
    """Results belong to the shard that made them: a video moved to another shard would be processed and
    released a second time there. Nothing is written when the change is refused."""
    src = sheet(tmp_path / "all.tsv", 7)
    out = tmp_path / "shards"
    shard_samples(src, out, 3)
    before = {p: p.read_text() for p in out.rglob("samples.tsv")}
    rows = src.read_text().splitlines()
    size = 3
    if change == "other size":
        size = 2
    elif change == "row removed":
        src.write_text("\n".join(rows[:2] + rows[3:]) + "\n")
    elif change == "rows reordered":
        src.write_text("\n".join([rows[0], rows[2], rows[1], *rows[3:]]) + "\n")
    elif change == "row inserted":
        src.write_text("\n".join([*rows[:3], "x1\tvideos/x1.mp4", *rows[3:]]) + "\n")
    else:
        sheet(src, 5)
    with pytest.raises(InputError, match="shard-000"):
        shard_samples(src, out, size)
    assert {p: p.read_text() for p in out.rglob("samples.tsv")} == before


def test_a_size_below_one_is_refused(tmp_path):
    with pytest.raises(InputError, match="at least 1"):
        shard_samples(sheet(tmp_path / "all.tsv", 5), tmp_path / "other", 0)


def test_a_bad_sheet_is_refused_as_btb_run_would(tmp_path):
    bad = tmp_path / "bad.tsv"
    bad.write_text("video_id\tpath\nv1\ta.mp4\nv1\tb.mp4\n")
    with pytest.raises(InputError, match="duplicate video_id"):
        shard_samples(bad, tmp_path / "shards", 10)
    assert not (tmp_path / "shards").exists()


def test_each_printed_command_plans_its_own_shard(tmp_path, face_clip, models_dir):
    """The command line end to end: btb shard, then a dry run of one shard's printed command plans that
    shard's videos only, in its own folder, reading the models the user's configuration names."""
    rows = "".join(f"c{i}\t{face_clip}\n" for i in range(5))
    (tmp_path / "all.tsv").write_text("video_id\tpath\n" + rows)
    (tmp_path / "mine.yaml").write_text(f"models:\n  dir: {models_dir}\n")
    out = subprocess.run([sys.executable, "-m", "btb", "shard", str(tmp_path / "all.tsv"), "--size", "2",
                          "--out", str(tmp_path / "shards"), "--configfile", str(tmp_path / "mine.yaml")],
                         capture_output=True, text=True, check=True)
    commands = out.stdout.splitlines()
    assert len(commands) == 3 and "5 videos in 3 shards" in out.stderr
    shard = tmp_path / "shards" / "shard-0002"
    assert shlex.split(commands[1]) == [str(REPO / "btb"), "run", "--samples", str(shard / "samples.tsv"),
                                        "--configfile", str(shard / "config.yaml"), "--directory", str(shard)]
    assert yaml.safe_load((shard / "config.yaml").read_text()) == {"models": {"dir": str(models_dir)}}
    plan = subprocess.run([sys.executable, "-m", "btb", *shlex.split(commands[1])[1:], "--", "-n", "--quiet", "rules"],
                          capture_output=True, text=True, cwd=tmp_path)
    assert plan.returncode == 0, plan.stderr[-2000:]
    counts = dict(line.split()[:2] for line in plan.stdout.splitlines() if len(line.split()) == 2)
    assert counts["encode_video"] == "2"  # c2 and c3 only
    assert not [rule for rule in counts if rule.startswith("stage_")]  # the models named are staged: none again


def test_the_shards_configuration_keeps_the_users_settings_with_absolute_paths(tmp_path):
    user = tmp_path / "mine.yaml"
    user.write_text("samples: other.tsv\nmerge:\n  mode: cascade\nmodels:\n  dir: my_models\naudit:\n"
                    "  signing_key: keys/run.pem\n  reviewer_keys: [keys/a.pem, /abs/b.pem]\n")
    cfg = yaml.safe_load(shard_config(REPO, user))
    assert cfg["merge"] == {"mode": "cascade"} and "samples" not in cfg  # the shard's sheet replaces it
    # relative paths from the folder btb run works in by default (the repository), as a plain run reads them
    assert cfg["models"]["dir"] == str(REPO / "my_models")
    assert cfg["audit"] == {"signing_key": str(REPO / "keys" / "run.pem"),
                            "reviewer_keys": [str(REPO / "keys" / "a.pem"), "/abs/b.pem"]}
    assert yaml.safe_load(shard_config(REPO)) == {"models": {"dir": str(REPO / "resources" / "models")}}
    user.write_text("merge:\n  mode: sideways\n")
    with pytest.raises(InputError, match="merge"):  # checked once here, not failing in every shard
        shard_config(REPO, user)
