"""Every rule's job runs in its own conda environment on a cluster (`--sdm conda`): its script must import with
the packages of that environment alone.

conda cannot run here, so the environment is simulated: for each rule (read from the workflow itself, on the
CPU and on the GPU configuration, so that envs/detect-gpu.yaml is covered), a fresh interpreter blocks every
installed distribution that is not in the rule's `envs/*.yaml` or required by one that is, then imports every
btb module the rule's script can reach (btb.pipeline.codegraph) and every module named by an import statement
in them, lazy imports inside functions included.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
from functools import cache
from importlib import metadata
from pathlib import Path

import pytest
import yaml
from conftest import REPO
from packaging.requirements import Requirement

from btb.pipeline.codegraph import CodeGraph

# distributions that install the same module as one installed here, which stands in for them: onnxruntime-gpu
# (onnxruntime), opencv-contrib-python-headless (retina-face requires it; cv2 of opencv-python-headless)
SAME_MODULES = {"onnxruntime-gpu": "onnxruntime", "opencv-contrib-python-headless": "opencv-python-headless"}


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@cache
def workflow_rules(device: str) -> tuple[tuple[str, str, str], ...]:
    """(rule, env file, script) of every rule with a script, as the workflow declares them."""
    from snakemake.api import SnakemakeApi
    from snakemake.settings.types import ConfigSettings, OutputSettings, ResourceSettings, StorageSettings

    with tempfile.TemporaryDirectory() as work, SnakemakeApi(OutputSettings(quiet={"all"})) as api:
        wf = api.workflow(resource_settings=ResourceSettings(cores=1),
                          config_settings=ConfigSettings(config={"detect": {"device": device}}),
                          storage_settings=StorageSettings(), snakefile=REPO / "Snakefile", workdir=Path(work))
        rules_dir = REPO / "workflow" / "rules"
        return tuple((r.name, str((rules_dir / r.conda_env).resolve()), str((rules_dir / r.script).resolve()))
                     for r in wf._workflow.rules if r.script)


def env_distributions(env_file: str) -> set[str]:
    """The pip distributions an environment file lists, and everything they require (installed metadata;
    opencv-contrib-python-headless, which retina-face requires, is checked through the module it shares with
    the OpenCV installed here, see SAME_MODULES)."""
    deps = yaml.safe_load(Path(env_file).read_text())["dependencies"]
    pip = next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)
    listed = {canonical(Requirement(p).name) for p in pip}
    todo = list(listed)
    seen: set[str] = set()
    while todo:
        name = todo.pop()
        name = SAME_MODULES.get(name, name)
        if name in seen:
            continue
        seen.add(name)
        try:
            requires = metadata.requires(name) or []
        except metadata.PackageNotFoundError:
            raise AssertionError(f"{env_file} needs {name}, which is not installed here to check against") from None
        for spec in map(Requirement, requires):
            if spec.marker is None or spec.marker.evaluate({"extra": ""}):
                todo.append(canonical(spec.name))
    return seen


def imports_of(path: Path) -> set[str]:
    """Module names of every import statement in a file, at any depth (``from m import n``: ``m``)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def script_targets(script: str) -> list[str]:
    """What a job of this script can import: its btb modules, and every other module their imports name."""
    graph = CodeGraph(REPO / "src")
    modules = graph.modules(script)
    files = [Path(script), *graph.reachable(script)]
    others = {n for f in files for n in imports_of(f) if n.partition(".")[0] not in ("btb", "__future__")}
    return modules + sorted(n for n in others if n.partition(".")[0] not in sys.stdlib_module_names)


CHECK = r"""
import importlib, importlib.abc, importlib.metadata, json, sys
allowed, targets, env = json.loads(sys.argv[1])
owners = importlib.metadata.packages_distributions()
canon = lambda n: n.replace("_", "-").replace(".", "-").lower()

class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path, target=None):
        top = name.partition(".")[0]
        if top == "btb":  # the project itself reaches the job through workflow/scripts/btb, not pip
            return None
        dists = {canon(d) for d in owners.get(top, [])}
        if dists and not dists & set(allowed):
            raise ModuleNotFoundError(f"{name} (distribution {sorted(dists)}) is not in {env}", name=name)
        return None

sys.meta_path.insert(0, Block())
failed = {}
for t in targets:
    try:
        importlib.import_module(t)
    except Exception as exc:
        failed[t] = f"{type(exc).__name__}: {exc}"
print(json.dumps(failed))
"""


def test_every_rule_has_an_env_and_the_gpu_variant_is_exercised():
    envs = {Path(env).name for device in ("cpu", "cuda") for _, env, _ in workflow_rules(device)}
    assert envs == {"audit.yaml", "convert.yaml", "detect.yaml", "detect-gpu.yaml", "evaluate.yaml", "video.yaml"}


@pytest.mark.parametrize("env", ["audit", "convert", "detect", "detect-gpu", "evaluate", "video"])
def test_rule_scripts_import_with_only_their_env(env):
    rules = sorted({(rule, script) for device in ("cpu", "cuda") for rule, e, script in workflow_rules(device)
                    if Path(e).name == f"{env}.yaml"})
    assert rules, f"no rule uses envs/{env}.yaml"
    targets = sorted({t for _, script in rules for t in script_targets(script)})
    allowed = sorted(env_distributions(str(REPO / "envs" / f"{env}.yaml")))
    proc = subprocess.run([sys.executable, "-c", CHECK, json.dumps([allowed, targets, f"envs/{env}.yaml"])],
                          capture_output=True, text=True, cwd=REPO,
                          env={**os.environ, "PYTHONPATH": str(REPO / "src"), "TF_CPP_MIN_LOG_LEVEL": "3"})
    assert proc.returncode == 0, proc.stderr[-3000:]
    failed = json.loads(proc.stdout.strip().splitlines()[-1])
    assert not failed, f"rules {[r for r, _ in rules]} in envs/{env}.yaml cannot import: {failed}"


def test_audit_package_needs_no_video_or_detector_stack():
    """btb.audit is what an auditor runs: the standard library plus cryptography, PyYAML, jsonschema and
    rocrate, nothing else (no numpy, pandas, OpenCV, onnxruntime)."""
    src = REPO / "src"
    audit = src / "btb" / "audit"
    allowed = {"cryptography", "yaml", "jsonschema", "rocrate"}
    # beyond btb.audit: the package roots, the error types, and `ffmpeg -version` for the environment record
    outside = {src / "btb" / f for f in ("__init__.py", "errors.py", "video/__init__.py", "video/ffmpeg.py")}
    graph = CodeGraph(src)
    for module in sorted(audit.glob("*.py")):
        reached = [module, *graph.reachable(module)]
        strays = [p for p in reached if not p.is_relative_to(audit) and p not in outside]
        assert not strays, f"{module.name} reaches {strays}"
        third = {n.partition(".")[0] for p in reached for n in imports_of(p)} - set(sys.stdlib_module_names)
        assert third <= allowed | {"btb", "__future__"}, f"{module.name} imports {third - allowed}"
