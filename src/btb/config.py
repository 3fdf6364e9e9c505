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
    return config


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
    return ["yunet", "retinaface"] + (["centerface"] if config["detect"]["centerface"]["enabled"] else [])


def stage_config(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as the stages see it: with CenterFace disabled its keys are dropped, so that a run
    without it has exactly the parameters, jobs and outputs of the two-detector workflow (nothing reruns)."""
    out = copy.deepcopy(config)
    if not config["detect"]["centerface"]["enabled"]:
        del out["detect"]["centerface"]
        for section in (out["merge"]["thresholds"], out["merge"]["cascade"], out["verify"]["thresholds"]):
            section.pop("centerface", None)
    return out
