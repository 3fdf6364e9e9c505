"""Configuration: the JSON schema and its validation, with errors that name the offending key."""

from __future__ import annotations

import copy
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from btb.errors import InputError

SCHEMA_PATH = Path(str(resources.files("btb") / "schemas" / "config.schema.yaml"))


def load_schema() -> dict[str, Any]:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def validate_config(config: dict[str, Any], source: str | Path = "config") -> dict[str, Any]:
    """Validate ``config``; InputError naming the key path and the problem."""
    validator = jsonschema.Draft202012Validator(load_schema())
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        key = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise InputError(source, f"invalid configuration at '{key}': {e.message}")
    # the optional third detector's keys may be left out, unless it is enabled
    if centerface_enabled(config):
        for section, key in ((("merge", "thresholds"), "centerface"), (("merge", "cascade"), "centerface"),
                             (("verify", "thresholds"), "centerface")):
            if key not in config.get(section[0], {}).get(section[1], {}):
                raise InputError(source, f"invalid configuration at '{'.'.join(section)}': 'centerface' is "
                                         "required when detect.centerface.enabled is true")
    return config


def centerface_enabled(config: dict[str, Any]) -> bool:
    return bool(config.get("detect", {}).get("centerface", {}).get("enabled", False))


def load_config(path: str | Path) -> dict[str, Any]:
    p = Path(path)
    try:
        data = yaml.safe_load(p.read_text())
    except (OSError, yaml.YAMLError) as exc:
        raise InputError(p, f"cannot read configuration ({exc})") from exc
    if not isinstance(data, dict):
        raise InputError(p, "configuration must be a YAML mapping")
    return validate_config(data, p)


def detectors(config: dict[str, Any]) -> list[str]:
    """The detectors a run uses, in cascade order: YuNet, RetinaFace, and CenterFace when enabled."""
    return ["yunet", "retinaface"] + (["centerface"] if centerface_enabled(config) else [])


def stage_config(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as the stages see it: with CenterFace disabled its keys are dropped, so that a run
    without it has exactly the parameters, jobs and outputs of the two-detector workflow (nothing reruns)."""
    out = copy.deepcopy(config)
    if not centerface_enabled(config):
        out["detect"].pop("centerface", None)
        for section in (out["merge"]["thresholds"], out["merge"]["cascade"], out["verify"]["thresholds"]):
            section.pop("centerface", None)
    return out
