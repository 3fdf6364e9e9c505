"""Configuration: one schema holds every key and its default; a configuration names only what it changes.

``load_schema`` reads ``schemas/config.schema.yaml`` and adds each registered detector's keys
(``btb.detect.registry``). ``validate_config`` fills every missing key with its default (in place, so the
workflow's ``config`` is complete), then validates; an error names the key. ``defaults()`` is the full default
configuration, which code that needs a setting outside the workflow (tests, benchmarks) starts from.
"""

from __future__ import annotations

import copy
import functools
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from btb.detect.registry import DETECTORS, THRESHOLD, enabled, optional_disabled
from btb.errors import InputError

SCHEMA_PATH = Path(str(resources.files("btb") / "schemas" / "config.schema.yaml"))


@functools.cache
def _schema() -> dict[str, Any]:
    schema = yaml.safe_load(SCHEMA_PATH.read_text())
    props = schema["properties"]
    merge = props["merge"]["properties"]
    temporal = merge["temporal"]["properties"]
    for name, spec in DETECTORS.items():
        props["detect"]["properties"][name] = {
            "type": "object", "additionalProperties": False, "default": {}, "description": spec.about,
            "properties": spec.options}
        merge["thresholds"]["properties"][name] = {
            **THRESHOLD, "default": spec.merge_threshold,
            "description": f"{spec.label}: detections at or above this score are blurred."}
        props["verify"]["properties"]["thresholds"]["properties"][name] = {
            **THRESHOLD, "default": spec.verify_threshold,
            "description": (f"{spec.label}: a head found on the input at or above this score is checked against the "
                            "output's blur." if name == "pose" else
                            f"{spec.label}: a detection on the output at or above this score is checked.")}
        temporal["continue_thresholds"]["properties"][name] = THRESHOLD
        temporal["persist_thresholds"]["properties"][name] = THRESHOLD
        if not spec.first_stage:
            merge["cascade"]["properties"][name] = {
                "type": "string", "enum": ["selected", "all"], "default": spec.cascade_default,
                "description": f"Cascade mode: {spec.label} on the frames the first stage leaves uncertain "
                               "(selected) or on every frame (all)."}
    props["verify"]["properties"]["redetect"]["items"]["enum"] = [
        name for name, spec in DETECTORS.items() if not spec.head_locator]
    temporal["continue_thresholds"]["default"] = {
        name: spec.continue_threshold for name, spec in DETECTORS.items() if spec.continue_threshold is not None}
    temporal["persist_thresholds"]["default"] = {
        name: spec.persist_threshold for name, spec in DETECTORS.items() if spec.persist_threshold is not None}
    return schema


def load_schema() -> dict[str, Any]:
    """The configuration schema with the registered detectors' keys (a copy: callers may change it)."""
    return copy.deepcopy(_schema())


def fill_defaults(instance: Any, schema: dict[str, Any]) -> None:
    """Add every missing key that has a ``default`` in ``schema`` to ``instance`` (recursively, in place)."""
    if not isinstance(instance, dict) or schema.get("type") != "object":
        return
    for key, sub in schema.get("properties", {}).items():
        if key not in instance and "default" in sub:
            instance[key] = copy.deepcopy(sub["default"])
        if key in instance:
            fill_defaults(instance[key], sub)


def validate_config(config: dict[str, Any], source: str | Path = "config") -> dict[str, Any]:
    """Fill ``config``'s missing keys with their defaults (in place) and validate it; InputError naming the
    source, the key path and the problem."""
    schema = _schema()
    if not isinstance(config, dict):
        raise InputError(source, "configuration must be a YAML mapping")
    fill_defaults(config, schema)
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(e.absolute_path))
    if errors:
        e = errors[0]
        key = ".".join(str(p) for p in e.absolute_path) or "(top level)"
        raise InputError(source, f"invalid configuration at '{key}': {e.message}")
    check_safety(config, source)
    off = [name for name in config["verify"]["redetect"] if name not in enabled(config)]
    if off:
        raise InputError(source, f"verify.redetect names {', '.join(off)}, which this configuration does not enable "
                                 "(detect.<name>.enabled)")
    if not config["outputs"]["video"] and not config["features"]["enabled"]:
        raise InputError(source, "outputs.video is false but features.enabled is false too: nothing would be "
                                 "released (set features.enabled: true to release the features instead)")
    return config


# Settings that leave faces recognisable are refused unless audit.allow_unsafe_settings says otherwise (recorded
# with the configuration in every manifest). Thresholds above these leave faces a detector finds unblurred
# (decision) or unchecked (verification). The blur's maximum detail per method is where RetinaFace still finds
# at most about 6 % of blurred faces at a score of 0.5 (benchmarks/blur_strength.py, docs/accuracy.md): a
# detector finding the face is a conservative stand-in for a person recognising it.
MAX_DECISION_THRESHOLD = 0.9
MAX_VERIFY_THRESHOLD = 0.5
MAX_BLUR_DETAIL = {"gaussian": 6, "pixelate": 4}
# verify.render settings beyond which the render check starts to miss a missing blur (docs/review.md): with
# their blur dropped, the regions of twelve real clips kept a share of 0.69 or more (99 % of them 0.88 or more)
RENDER_LIMITS = {"max_kept": 0.7, "min_detail": 12.0, "pixel_tolerance": 48.0, "min_changed_px": 400}


def check_safety(config: dict[str, Any], source: str | Path = "config") -> None:
    """Refuse thresholds that disable detection or verification and blur too weak to hide a face, unless
    explicitly overridden."""
    if config["audit"]["allow_unsafe_settings"]:
        return
    override = "set audit.allow_unsafe_settings: true to run it anyway (recorded)"
    for section, limit in (("merge", MAX_DECISION_THRESHOLD), ("verify", MAX_VERIFY_THRESHOLD)):
        for name, value in config[section]["thresholds"].items():
            if value > limit:
                raise InputError(source, f"{section}.thresholds.{name} is {value}: above {limit} it leaves faces "
                                         f"{'unblurred' if section == 'merge' else 'unchecked'}; {override}")
    # a detector run on every n-th frame blurs the frames between only through temporal coverage
    temporal = config["merge"]["temporal"]
    for name in enabled(config):
        every = int(config["detect"].get(name, {}).get("every", 1))
        if every > 1 and not (temporal["enabled"] and temporal["max_gap"] >= every - 1):
            raise InputError(source, f"detect.{name}.every is {every}: the {every - 1} frames between its runs are "
                                     "blurred only by temporal coverage, which needs merge.temporal.enabled and "
                                     f"merge.temporal.max_gap of at least {every - 1}; {override}")
    render = config["verify"]["render"]
    if not render["enabled"] and not config["verify"]["redetect"]:
        raise InputError(source, "verify.render.enabled is false with no verify.redetect detector: nothing would "
                                 "check the encoded file's pixels (a missing blur would pass); " + override)
    if render["enabled"]:
        for key, limit in RENDER_LIMITS.items():
            if render[key] > limit:
                raise InputError(source, f"verify.render.{key} is {render[key]}: above {limit} the render check "
                                         f"misses blurs missing from the file; {override}")
    method, detail = config["blur"]["method"], config["blur"]["detail"]
    if detail > MAX_BLUR_DETAIL.get(method, detail):
        raise InputError(source, f"blur.detail is {detail}: with {method} above {MAX_BLUR_DETAIL[method]} a blurred "
                                 f"face keeps enough detail to be recognised; {override}")


@functools.cache
def _defaults() -> dict[str, Any]:
    return validate_config({}, "defaults")


def defaults() -> dict[str, Any]:
    """The full default configuration (a fresh copy)."""
    return copy.deepcopy(_defaults())


def check_config_text(path: str | Path) -> str:
    """A configuration file's text, refused (InputError naming the file) when it is not UTF-8 or uses YAML
    anchors and aliases (which can expand a small file without bound before anything validates it)."""
    p = Path(path)
    try:
        text = p.read_bytes().decode("utf-8")
    except OSError as exc:
        raise InputError(p, f"cannot read configuration ({exc.strerror or exc})") from exc
    except UnicodeDecodeError as exc:
        raise InputError(p, f"configuration is not UTF-8 text (byte {exc.start}); save it as UTF-8") from exc
    try:
        for token in yaml.scan(text):
            if isinstance(token, yaml.AnchorToken | yaml.AliasToken):
                raise InputError(p, f"line {token.start_mark.line + 1}: YAML anchors and aliases (& and *) are not "
                                    "accepted in a configuration; write the values out")
        yaml.compose(text)  # the syntax, without constructing anything
    except yaml.YAMLError as exc:
        raise InputError(p, f"not valid YAML ({exc})") from exc
    return text


def read_config_file(path: str | Path) -> dict[str, Any]:
    """A configuration file as written (an empty file is an empty mapping); InputError naming the file."""
    p = Path(path)
    try:
        data = yaml.safe_load(check_config_text(p))
    except yaml.YAMLError as exc:
        raise InputError(p, f"cannot read configuration ({exc})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise InputError(p, "configuration must be a YAML mapping")
    return data


def overlay(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Lay ``over`` onto ``base`` key by key (in place), as Snakemake lays ``--configfile`` files over the
    workflow's configuration; returns ``base``."""
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            overlay(base[key], value)
        else:
            base[key] = copy.deepcopy(value)
    return base


def load_config(path: str | Path) -> dict[str, Any]:
    """A configuration file, completed with the defaults and validated."""
    return validate_config(read_config_file(path), path)


def detectors(config: dict[str, Any]) -> list[str]:
    """The detectors a run uses, in cascade order (``btb.detect.registry.enabled``)."""
    return enabled(config)


def stage_config(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration as the stages see it: a disabled optional detector's keys are dropped, so that a run
    without it has exactly the parameters, jobs and outputs of the workflow of the others (nothing reruns)."""
    out = copy.deepcopy(config)
    for name in optional_disabled(config):
        out["detect"].pop(name, None)
        for section in (out["merge"]["thresholds"], out["merge"]["cascade"], out["verify"]["thresholds"],
                        out["merge"]["temporal"].get("continue_thresholds", {}),
                        out["merge"]["temporal"].get("persist_thresholds", {})):
            section.pop(name, None)
    return out


def job_threads(setting: int | str, videos: int, cores: int | None) -> int:
    """Threads per job for ``detect.threads`` (the evaluation's jobs, and the floor of
    ``side_by_side_threads``). ``auto``: 1 when the run has at least as many videos as cores, or no core count
    (a cluster); else 2.

    With many videos, one thread per job lets jobs of different videos fill the cores: a second onnxruntime
    thread gives 1.3-1.7 times a job's speed, not 2, and a 2-thread job holds both cores of a 2-core machine
    while its decoding and bookkeeping use one. On 40 one-second clips at 2 cores: 7.2 s a clip against 10.6 s
    with 2 threads (docs/performance.md)."""
    if setting != "auto":
        return int(setting)
    return 1 if not cores or videos >= cores else 2


SIDE_BY_SIDE_MAX_PIXELS = 1280 * 720  # frames up to 720p: a video's detection jobs run side by side


def side_by_side_threads(setting: int | str, videos: int, jobs_per_video: int, cores: int | None,
                         largest_frame_pixels: int | None) -> int:
    """Threads per job, for ``detect.threads``, of a stage whose jobs run beside ``jobs_per_video`` - 1 other
    independent jobs of each video (detection: a video's detectors; verification: its feature extraction).
    ``auto``: 1 as ``job_threads`` gives, and also when the run's videos times ``jobs_per_video`` are at least
    as many as the cores and no frame is larger than 720p (``largest_frame_pixels``; None: not known, taken as
    large); else 2.

    Side by side at one thread each, a 640x360 video's three detectors took 20-22 s instead of 27 s one after
    another at two threads (the whole video 39.2 s instead of 44.9 s in interleaved runs, docs/performance.md);
    its verification took as long at one thread as at two, and feature extraction then runs beside it. At 720p
    the run's processes peaked at 998 MB together; at 1080p the detection jobs side by side would take 1.37 GB
    instead of 0.98 GB, so larger frames keep one 2-thread job at a time."""
    if setting != "auto":
        return int(setting)
    if job_threads(setting, videos, cores) == 1:
        return 1
    small = largest_frame_pixels is not None and largest_frame_pixels <= SIDE_BY_SIDE_MAX_PIXELS
    return 1 if small and videos * jobs_per_video >= (cores or 0) else 2


def reference_table() -> str:
    """Every configuration key as a Markdown table (key, default, what it does), from the schema: the body of
    config/README.md (``btb config --reference``)."""
    rows = ["| key | default | what it does |", "|---|---|---|"]

    def walk(schema: dict[str, Any], prefix: str) -> None:
        for key, sub in schema.get("properties", {}).items():
            path = f"{prefix}{key}"
            if sub.get("type") == "object" and sub.get("properties") and "default" in sub and sub["default"] == {}:
                walk(sub, f"{path}.")
                continue
            default = sub.get("default", "")
            shown = "`" + yaml.safe_dump(default, default_flow_style=True).strip().removesuffix("...").strip() + "`"
            allowed = f" One of {', '.join(map(str, sub['enum']))}." if "enum" in sub else ""
            about = " ".join(str(sub.get("description", "")).split())
            rows.append(f"| `{path}` | {shown if 'default' in sub else '—'} | {about}{allowed} |")

    walk(_schema(), "")
    return "\n".join(rows) + "\n"
