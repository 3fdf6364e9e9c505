import re

import pytest
from conftest import REPO, default_config

from btb.config import load_config, validate_config
from btb.errors import InputError
from btb.samples import read_sample_sheet, resolve_samples, sanitise_id, scan_input_dir


def test_default_config_is_valid():
    load_config(REPO / "config" / "config.yaml")


@pytest.mark.parametrize(
    ("dotted", "value", "key"),
    [
        ("merge.mode", "vote", "merge.mode"),
        ("merge.thresholds.yunet", 1.5, "merge.thresholds.yunet"),
        ("encode.audio", "mute", "encode.audio"),
        ("blur.detial", 3, "blur"),
    ],
)
def test_schema_errors_name_the_key(dotted, value, key):
    cfg = default_config()
    node = cfg
    *path, last = dotted.split(".")
    for k in path:
        node = node[k]
    node[last] = value
    with pytest.raises(InputError, match=f"'{key}'"):
        validate_config(cfg, "my.yaml")


def test_sample_sheet(tmp_path):
    sheet = tmp_path / "s.tsv"
    sheet.write_text("video_id\tpath\tage\nkid1\ta b.mp4\t3\nkid2\t/abs/c.mp4\t4\n")
    got = read_sample_sheet(sheet)
    assert [(s.video_id, s.path) for s in got] == [("kid1", str(tmp_path / "a b.mp4")), ("kid2", "/abs/c.mp4")]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("id\tfile\nx\ty\n", "header"),
        ("video_id\tpath\nkid1\ta.mp4\nkid1\tb.mp4\n", "duplicate video_id 'kid1'"),
        ("video_id\tpath\n../evil\ta.mp4\n", "must match"),
        ("video_id\tpath\nkid\t\n", "empty path"),
        ("video_id\tpath\n", "lists no videos"),
        ('video_id\tpath\nkid\t"quoted".mp4\n', "begins with a quote"),
        ("video_id\tpath\naudit_log.jsonl\ta.mp4\n", "reserved"),
        ("video_id\tpath\neval-ytf\ta.mp4\n", "reserved"),
        ("video_id\tpath\nkid\ta.mp4\textra\n", "tab-separated fields"),
    ],
)
def test_bad_sample_sheets(tmp_path, text, problem):
    sheet = tmp_path / "s.tsv"
    sheet.write_text(text)
    with pytest.raises(InputError, match=problem) as exc:
        read_sample_sheet(sheet)
    assert str(sheet) in str(exc.value)


def test_input_dir_ids(tmp_path):
    """By default an input folder's files get opaque ids (a file name may identify a participant); with
    ``names`` the sanitised file names, made unique; the map from file to id is written only when asked for,
    owner-only."""
    from btb.samples import write_id_map

    for i, name in enumerate(["Jane Doe.mp4", "Jane_Doe.MOV", "notes.txt", "$(rm -rf).mkv", "eval-x.mp4"]):
        (tmp_path / name).write_bytes(bytes([i]) * 100)
    named = {s.video_id for s in scan_input_dir(tmp_path, "names")}
    assert named == {"Jane_Doe", "Jane_Doe_2", "rm_-rf", "veval-x"}
    assert sanitise_id("...") == "video"
    opaque = scan_input_dir(tmp_path)
    assert len(opaque) == 4 and all(re.fullmatch(r"v[0-9a-f]{12}", s.video_id) for s in opaque)
    assert [s.video_id for s in scan_input_dir(tmp_path)] == [s.video_id for s in opaque], "stable"
    write_id_map(tmp_path / "map" / "ids.tsv", opaque)
    assert (tmp_path / "map" / "ids.tsv").stat().st_mode & 0o777 == 0o600
    assert "Jane Doe.mp4" in (tmp_path / "map" / "ids.tsv").read_text()


def test_demo_when_nothing_given():
    assert [s.video_id for s in resolve_samples("", "")] == ["demo"]


def test_btb_evaluate_command_names_its_target_outside_the_configfile_list(monkeypatch):
    """`btb evaluate --configfile X`: snakemake's --configfile takes every word after it, so the target must
    come first (it was read as a config file named 'evaluate')."""
    import subprocess

    from btb import cli

    seen = []
    monkeypatch.setattr(subprocess, "call", lambda cmd, cwd=None: seen.append(cmd) or 1)
    cli.main(["evaluate", "--configfile", "config/evaluate_shared.yaml", "--", "-n"])
    cmd = seen[0]
    assert cmd[3] == "evaluate" and cmd.index("-n") < cmd.index("--configfile")
    assert cmd[cmd.index("--configfile") + 1:][-1].endswith("config/evaluate_shared.yaml")


def test_centerface_disabled_leaves_no_key_for_the_stages():
    """Disabled (the default), the stages get exactly the configuration without it: same parameters, jobs
    and outputs as the workflow without CenterFace."""
    from btb.config import detectors, stage_config

    cfg = default_config()
    assert cfg["detect"]["centerface"]["enabled"] is False and detectors(cfg) == ["yunet", "retinaface", "pose"]
    seen = stage_config(cfg)
    assert "centerface" not in seen["detect"] and "centerface" not in seen["merge"]["thresholds"]
    assert "centerface" not in seen["merge"]["cascade"] and "centerface" not in seen["verify"]["thresholds"]
    assert cfg["merge"]["thresholds"]["centerface"] == 0.2, "the caller's configuration is not changed"
    cfg["detect"]["centerface"]["enabled"] = True
    assert detectors(cfg) == ["yunet", "retinaface", "centerface", "pose"] and stage_config(cfg) == cfg


def test_a_configuration_names_only_what_it_changes():
    """Every key left out takes its default from the schema: a configuration of only ``samples`` is complete,
    one written before the optional third detector existed gives the same stage parameters, and enabling it
    needs no other key."""
    import copy

    from btb.config import defaults, detectors, stage_config

    only = validate_config({"samples": "sheet.tsv"}, "user.yaml")
    assert only == {**defaults(), "samples": "sheet.tsv"}
    cfg = default_config()
    old = copy.deepcopy(cfg)
    del old["detect"]["centerface"]
    for section in (old["merge"]["thresholds"], old["merge"]["cascade"], old["verify"]["thresholds"]):
        del section["centerface"]
    assert validate_config(old) == cfg and detectors(old) == ["yunet", "retinaface", "pose"]
    assert stage_config(old) == stage_config(cfg), "the same stage parameters as with the keys present"
    on = validate_config({"detect": {"centerface": {"enabled": True}}})
    assert detectors(on) == ["yunet", "retinaface", "centerface", "pose"]
    off = validate_config({"detect": {"pose": {"enabled": False}}})
    assert detectors(off) == ["yunet", "retinaface"] and "pose" not in stage_config(off)["verify"]["thresholds"]
    assert on["verify"]["thresholds"]["centerface"] == 0.4 and on["merge"]["thresholds"]["centerface"] == 0.2


def test_schema_defaults_are_the_code_defaults():
    """One source of truth: the parameter objects the stages build from the defaults are the shipped
    behaviour (size hold and bridging on, box regions), and a parameter object has no defaults of its own."""
    import dataclasses

    from btb.config import defaults
    from btb.regions.blur import BlurParams
    from btb.regions.merge import MergeParams, temporal_params
    from btb.regions.temporal import TemporalParams
    from btb.release.residual import ResidualParams

    d = defaults()
    t = temporal_params(d["merge"])
    assert t is not None and (t.size_hold, t.bridge_gap, t.continue_thresholds) == (300, 30, {"yunet": 0.4})
    assert MergeParams.from_config(d["merge"]).shape == "box"
    for cls in (TemporalParams, MergeParams, BlurParams, ResidualParams):
        assert all(f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
                   for f in dataclasses.fields(cls) if f.name != "fill_bgr"), cls


def test_config_errors_name_the_file_and_key(tmp_path):
    bad = tmp_path / "mine.yaml"
    bad.write_text("merge:\n  mode: vote\n")
    from btb.config import load_config

    with pytest.raises(InputError, match=r"mine.yaml: invalid configuration at 'merge.mode'"):
        load_config(bad)
    bad.write_text("just text")
    with pytest.raises(InputError, match="mine.yaml: configuration must be a YAML mapping"):
        load_config(bad)


def test_cli_passes_an_absolute_working_directory(tmp_path, monkeypatch):
    """`btb run --directory ../runs/x` from anywhere: Snakemake runs inside that folder, so a relative
    --directory would be resolved twice (../runs/x/../runs/x)."""
    import argparse

    from btb.cli import _snakemake_cmd

    monkeypatch.chdir(tmp_path)
    args = argparse.Namespace(profile="default", cores=1, directory="runs/x", configfile="extra.yaml",
                              samples=None, input_dir="clips", input_map="private/ids.tsv")
    cmd = _snakemake_cmd(args, [])
    assert cmd[cmd.index("--directory") + 1] == str(tmp_path / "runs" / "x")
    assert cmd[cmd.index("--configfile") + 1] == str(tmp_path / "extra.yaml")
    assert f"input_dir={tmp_path / 'clips'}" in cmd
    assert f"input_map={tmp_path / 'private' / 'ids.tsv'}" in cmd


def test_photos_preset_is_a_valid_overlay():
    """config/photos.yaml, laid over config/config.yaml as `btb run --configfile` does (Snakemake's recursive
    update), validates and turns CenterFace on at the threshold docs/accuracy.md's photo figures were measured at."""
    import yaml
    from snakemake.utils import update_config

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    update_config(config, yaml.safe_load((REPO / "config" / "photos.yaml").read_text()))
    config = validate_config(config, "photos.yaml")
    assert config["detect"]["centerface"]["enabled"] is True
    assert config["merge"]["thresholds"] == {"yunet": 0.5, "retinaface": 0.2, "centerface": 0.05, "pose": 0.5}
    assert config["merge"]["mode"] == "union"


def test_config_readme_lists_every_key():
    """config/README.md carries the reference table generated from the schema, so it cannot fall behind."""
    from btb.config import reference_table

    assert reference_table() in (REPO / "config" / "README.md").read_text()


@pytest.mark.parametrize(("text", "problem"), [
    (b"merge:\n  mode: union\n  enlarge: &a 1.3\n  fuse_iou: *a\n", "anchors and aliases"),
    ("blur:\n  method: gaussian  # d\xe9tail\n".encode("latin-1"), "not UTF-8"),
    (b"merge: [unclosed\n", "not valid YAML"),
])
def test_config_files_snakemake_would_choke_on_are_refused_first(tmp_path, text, problem, capsys):
    """`btb run --configfile` checks the file before Snakemake reads it: an alias bomb never expands, a
    Latin-1 file is named."""
    from btb.cli import main

    bad = tmp_path / "mine.yaml"
    bad.write_bytes(text)
    assert main(["run", "--configfile", str(bad), "--", "-n"]) == 2
    err = capsys.readouterr().err
    assert str(bad) in err and problem in err


def test_snakemake_called_directly_refuses_aliases_before_validating(tmp_path):
    """The SLURM command line calls Snakemake without `btb`: the workflow checks every --configfile itself
    before any value is walked, so an alias bomb (which PyYAML loads small, sharing nodes) is refused, naming
    the file, instead of exhausting memory in validation."""
    import subprocess
    import sys

    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for prev, name in zip("abcdefgh", "bcdefghi", strict=True):
        levels.append(f"{name}: &{name} [" + ", ".join([f"*{prev}"] * 10) + "]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join([*levels, "merge: {temporal: {extend: *i}}", ""]))
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--snakefile", str(REPO / "Snakefile"),
                           "--directory", str(tmp_path), "--configfile", str(bomb), "-n", "--cores", "1"],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode != 0
    assert str(bomb) in proc.stderr + proc.stdout and "anchors and aliases" in proc.stderr + proc.stdout


@pytest.mark.parametrize(("section", "value", "problem"), [
    ({"merge": {"thresholds": {"yunet": 1.0}}}, None, "merge.thresholds.yunet is 1.0"),
    ({"verify": {"thresholds": {"retinaface": 0.9}}}, None, "verify.thresholds.retinaface is 0.9"),
    ({"blur": {"detail": 32}}, None, "blur.detail is 32"),
    ({"blur": {"method": "pixelate", "detail": 6}}, None, "with pixelate above 4"),
    ({"verify": {"render": {"enabled": False}}}, None, "nothing would check the encoded file"),
    ({"verify": {"render": {"max_kept": 0.95}}}, None, "verify.render.max_kept is 0.95"),
    ({"verify": {"render": {"min_detail": 20}}}, None, "verify.render.min_detail is 20"),
    ({"verify": {"render": {"pixel_tolerance": 100}}}, None, "verify.render.pixel_tolerance is 100"),
    ({"verify": {"render": {"min_changed_px": 5000}}}, None, "verify.render.min_changed_px is 5000"),
])
def test_settings_that_leave_faces_recognisable_are_refused(section, value, problem):
    """Thresholds no detector reaches and blur too weak to hide a face are refused, naming the key, unless the
    override (recorded in every manifest) is set."""
    with pytest.raises(InputError, match=problem):
        validate_config(dict(section), "mine.yaml")
    assert validate_config({**section, "audit": {"allow_unsafe_settings": True}})["audit"]["allow_unsafe_settings"]


def test_verify_redetect_names_enabled_face_detectors_only():
    """verify.redetect is empty by default (every detector's stored detections are checked, and the render check
    checks the file); a detector the run does not enable, the head locator or an unknown name is refused, naming
    the key."""
    assert validate_config({})["verify"]["redetect"] == []
    assert validate_config({})["verify"]["render"]["enabled"] is True
    ok = validate_config({"verify": {"redetect": ["yunet", "retinaface"]}})
    assert ok["verify"]["redetect"] == ["yunet", "retinaface"]
    with pytest.raises(InputError, match="centerface, which this configuration does not enable"):
        validate_config({"verify": {"redetect": ["centerface"]}})
    assert validate_config({"verify": {"redetect": ["centerface"]}, "detect": {"centerface": {"enabled": True}}})
    assert not validate_config({"verify": {"render": {"enabled": False}, "redetect": ["yunet"]}})[
        "verify"]["render"]["enabled"], "the file checked by a detector run again instead"
    for bad in (["pose"], ["nope"], ["yunet", "yunet"]):
        with pytest.raises(InputError, match="verify.redetect"):
            validate_config({"verify": {"redetect": bad}})
