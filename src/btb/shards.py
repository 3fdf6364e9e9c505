"""Split a large sample sheet into shards: one working folder and sample sheet per shard.

One Snakemake run plans every job of every video before it starts, and its planning time and memory grow
with the number of videos (about 0.3 s and 0.36 MB a video, ``benchmarks/dry_run_scale.py``): 100,000
videos do not fit one run's plan on a 24 GB machine. Shards are planned and run independently (on different
nodes if need be), each with its own ``results/``, run log and RO-Crate.

Shards follow the sheet's order: shard 1 holds its first ``size`` videos, and so on. Appending videos to the
sheet changes only the last shard and adds new ones, so the finished shards' results stay valid (a rerun of
a shard redoes only what is missing). A shard's sheet is rewritten only when its content changes.

Every shard reads the same staged models (``models.dir`` made absolute in the shard's ``config.yaml``, laid
over the user's configuration if one is given), so they are staged once, not once per shard folder.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path

import yaml

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
    if path.is_file() and path.read_text(encoding="utf-8") == text:
        return False
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.part")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)  # a reader sees the old sheet or the new one, never half of one
    return True


def shard_config(models_dir: str | Path, configfile: str | Path | None = None) -> str:
    """The shards' configuration: ``configfile`` (if any) with ``models.dir`` absolute (``models_dir``, the
    default folder, unless ``configfile`` names one: relative to the folder the command runs in)."""
    cfg = {}
    if configfile is not None:
        try:
            cfg = yaml.safe_load(Path(configfile).read_text(encoding="utf-8")) or {}
        except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
            raise InputError(configfile, f"cannot read the configuration ({exc})") from exc
        if not isinstance(cfg, dict):
            raise InputError(configfile, "the configuration must be a mapping")
    models = dict(cfg.get("models") or {})
    models["dir"] = str(Path(models.get("dir") or models_dir).absolute())
    return yaml.safe_dump({**cfg, "models": models}, sort_keys=False)


def shard_samples(sheet: str | Path, out: str | Path, size: int, config: str = "") -> list[Shard]:
    """Split ``sheet`` (validated as ``btb run`` would) into shards of at most ``size`` videos under ``out``;
    ``config`` (``shard_config``) is each shard's configuration.

    Paths are written absolute, so a shard's sheet works from its own folder. A shard folder beyond the ones
    this sheet needs (the sheet got shorter) is an error naming it: its results belong to videos no longer
    assigned to it, and only the user can say whether to keep them."""
    if size < 1:
        raise InputError(sheet, f"shard size must be at least 1 (got {size})")
    samples = read_sample_sheet(sheet)
    out = Path(out)
    count = math.ceil(len(samples) / size)
    names = [shard_name(k, count) for k in range(1, count + 1)]
    if out.is_dir():
        stale = sorted(p.name for p in out.iterdir()
                       if p.is_dir() and p.name.startswith("shard-") and p.name not in names)
        if stale:
            raise InputError(out, f"holds shard folders this sheet does not need ({', '.join(stale[:5])}"
                                  f"{' ...' if len(stale) > 5 else ''}): the sheet has {len(samples)} videos, "
                                  f"{count} shards of {size}; move them away or choose another folder")
    shards = []
    for k, name in enumerate(names):
        part = samples[k * size:(k + 1) * size]
        text = "video_id\tpath\n" + "".join(f"{s.video_id}\t{Path(s.path).absolute()}\n" for s in part)
        folder = out / name
        changed = _write_if_changed(folder / SHARD_SHEET, text)
        changed = _write_if_changed(folder / SHARD_CONFIG, config) or changed
        shards.append(Shard(folder, folder / SHARD_SHEET, folder / SHARD_CONFIG, len(part), changed))
    return shards
