"""Split a large sample sheet into shards: one working folder and sample sheet per shard.

One Snakemake run plans every job of every video before it starts, and its planning time and memory grow
with the number of videos (about 0.03 s and 0.36 MB a video, ``benchmarks/dry_run_scale.py``): 100,000
videos would need about 36 GB in one run. Shards are planned and run independently (on different
nodes if need be), each with its own ``results/``, run log and RO-Crate.

Shards follow the sheet's order: shard 1 holds its first ``size`` videos, and so on. Appending videos to the
sheet changes only the last shard and adds new ones, so the finished shards' results stay valid (a rerun of
a shard redoes only what is missing); a change that would move a video between shards is refused. A shard's
files are rewritten only when their content changes.

Every shard reads the same staged models (``models.dir`` absolute in the shard's ``config.yaml``, a copy of
the user's configuration if one is given), so they are staged once, not once per shard folder.
"""

from __future__ import annotations

import copy
import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

from btb.audit.io import atomic_output
from btb.errors import InputError
from btb.samples import read_sample_sheet

SHARD_SHEET = "samples.tsv"
SHARD_CONFIG = "config.yaml"


@dataclass(frozen=True)
class Shard:
    folder: Path  # the shard's working folder (``btb run --directory``)
    sheet: Path  # its sample sheet (``btb run --samples``)
    config: Path  # its configuration (``btb run --configfile``)
    videos: int
    changed: bool  # its sheet was written now (new, or its videos changed)


def shard_name(k: int, count: int) -> str:
    """``shard-0001``: numbered from 1, wide enough for ``count`` shards and at least 4 digits."""
    return f"shard-{k:0{max(4, len(str(count)))}d}"


def _write_if_changed(path: Path, text: str) -> bool:
    """Write ``text`` owner-only (a sheet lists paths and ids), atomically, unless the file holds it already."""
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    with atomic_output(path) as tmp:  # a reader sees the old sheet or the new one, never half of one
        with os.fdopen(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600), "w", encoding="utf-8") as fh:
            fh.write(text)
    return True


# configuration keys that name files or folders: made absolute in the shards' configuration, which runs in the
# shard's folder; the sample keys are the shard's own (its sheet replaces them)
PATH_KEYS = (("models", "dir"), ("models", "mirror"), ("audit", "signing_key"))
PATH_LIST_KEYS = (("audit", "reviewer_keys"),)
SAMPLE_KEYS = ("samples", "input_dir", "input_map")


def shard_config(base: str | Path, configfile: str | Path | None = None) -> str:
    """The shards' configuration: ``configfile`` (if any) checked as ``btb run`` would (laid over the
    workflow's ``config/config.yaml`` under ``base``), without its sample keys, with every path absolute
    (relative ones taken from ``base``, the folder ``btb run`` works in by default) and ``models.dir`` always
    set, so that every shard reads the same staged models."""
    from btb.config import overlay, read_config_file, validate_config

    base = Path(base).absolute()
    cfg = read_config_file(configfile) if configfile is not None else {}
    merged = overlay(overlay({}, read_config_file(base / "config" / "config.yaml")), cfg)
    validate_config(copy.deepcopy(merged), str(configfile or base / "config" / "config.yaml"))

    def absolute(value: str) -> str:
        p = Path(value).expanduser()
        return str(p if p.is_absolute() else base / p)

    cfg = {k: copy.deepcopy(v) for k, v in cfg.items() if k not in SAMPLE_KEYS}
    for section, key in PATH_KEYS:
        if (cfg.get(section) or {}).get(key):
            cfg[section][key] = absolute(cfg[section][key])
    for section, key in PATH_LIST_KEYS:
        if (cfg.get(section) or {}).get(key):
            cfg[section][key] = [absolute(v) for v in cfg[section][key]]
    models = cfg.setdefault("models", {})
    models["dir"] = absolute(models.get("dir") or (merged.get("models") or {}).get("dir") or "resources/models")
    return yaml.safe_dump(cfg, sort_keys=False)


def _sheet_ids(sheet: Path) -> list[str]:
    return [line.split("\t", 1)[0] for line in sheet.read_text(encoding="utf-8").splitlines()[1:] if line]


def shard_samples(sheet: str | Path, out: str | Path, size: int, config: str = "") -> list[Shard]:
    """Split ``sheet`` (validated as ``btb run`` would) into shards of at most ``size`` videos under ``out``;
    ``config`` (``shard_config``) is each shard's configuration.

    Paths are written absolute, so a shard's sheet works from its own folder. Shards never move a video: the
    shards already in ``out`` must keep their videos, except the last, which may gain videos at its end;
    anything else (another size, rows edited, removed or reordered, a shard folder the sheet no longer
    needs) is an error naming the shard, before anything is written. Its results belong to the videos it
    had, and a video moved to another shard would be processed and released again there."""
    if size < 1:
        raise InputError(sheet, f"shard size must be at least 1 (got {size})")
    samples = read_sample_sheet(sheet)
    out = Path(out)
    count = math.ceil(len(samples) / size)
    names = [shard_name(k, count) for k in range(1, count + 1)]
    parts = {name: samples[k * size:(k + 1) * size] for k, name in enumerate(names)}
    existing = sorted(p.name for p in out.iterdir() if p.is_dir() and p.name.startswith("shard-")
                      and (p / SHARD_SHEET).is_file()) if out.is_dir() else []
    stale = [name for name in existing if name not in parts]
    if stale:
        raise InputError(out, f"holds shard folders this sheet does not need ({', '.join(stale[:5])}"
                              f"{' ...' if len(stale) > 5 else ''}): the sheet has {len(samples)} videos, "
                              f"{count} shards of {size}; move them away or choose another folder")
    for name in existing:
        old, new = _sheet_ids(out / name / SHARD_SHEET), [s.video_id for s in parts[name]]
        kept = new[:len(old)] if name == existing[-1] else new
        if kept != old:
            raise InputError(out / name, f"sharding this sheet with size {size} would change which videos this "
                                         f"shard holds ({len(old)} videos now; the last existing shard may "
                                         "only gain videos at its end): its results belong to them. Keep the "
                                         "size and append new videos at the end of the sheet, or choose another "
                                         "folder")
    shards = []
    for name, part in parts.items():
        text = "video_id\tpath\n" + "".join(f"{s.video_id}\t{Path(s.path).absolute()}\n" for s in part)
        folder = out / name
        changed = _write_if_changed(folder / SHARD_SHEET, text)
        changed = _write_if_changed(folder / SHARD_CONFIG, config) or changed
        shards.append(Shard(folder, folder / SHARD_SHEET, folder / SHARD_CONFIG, len(part), changed))
    return shards
