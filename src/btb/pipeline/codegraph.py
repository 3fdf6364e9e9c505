"""Which package code each workflow stage runs, from the import graph: the stages' code digests.

Snakemake reruns a job when its rule's script changes, not when the package code the script runs does. Each
rule therefore carries a ``code`` parameter: a digest of its script and of every ``btb`` module the script can
reach through imports (``import`` statements at any depth, inside functions too, and ``from btb.x import y``
where ``y`` is a module), read from the source without importing anything. Editing a module changes the
digest of exactly the rules whose scripts reach it, so those jobs and what follows them rerun.
"""

from __future__ import annotations

import ast
import functools
import hashlib
from pathlib import Path

PACKAGE = "btb"


def _module_path(root: Path, module: str) -> Path | None:
    """The source file of ``module`` (``btb.x.y``) under ``root`` (the folder holding the ``btb`` package)."""
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _imported_names(source: str, filename: str) -> set[str]:
    """Every absolute module name an import statement of ``source`` names (with ``from M import n``: M and
    M.n, since n may be a submodule)."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(source, filename)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


class CodeGraph:
    """The ``btb`` modules under ``root`` (``src/``) and what each script or module reaches."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @functools.cache  # noqa: B019 (one graph per workflow run; the cache lives as long as it does)
    def imports(self, path: Path) -> frozenset[Path]:
        """The package module files one file imports directly (with their parent packages' ``__init__``)."""
        found: set[Path] = set()
        for name in _imported_names(path.read_text(encoding="utf-8"), str(path)):
            if name != PACKAGE and not name.startswith(f"{PACKAGE}."):
                continue
            parts = name.split(".")
            for depth in range(1, len(parts) + 1):  # importing btb.a.b runs btb/__init__ and btb/a/__init__
                module = _module_path(self.root, ".".join(parts[:depth]))
                if module is not None:
                    found.add(module)
        return frozenset(found)

    def reachable(self, script: str | Path) -> list[Path]:
        """Every package module file ``script`` can reach, sorted."""
        seen: set[Path] = set()
        todo = list(self.imports(Path(script)))
        while todo:
            module = todo.pop()
            if module not in seen:
                seen.add(module)
                todo.extend(self.imports(module))
        return sorted(seen)

    def modules(self, script: str | Path) -> list[str]:
        """The dotted names of the modules ``script`` reaches."""
        out = []
        for path in self.reachable(script):
            rel = path.relative_to(self.root).with_suffix("")
            parts = rel.parts[:-1] if rel.name == "__init__" else rel.parts
            out.append(".".join(parts))
        return out

    def digest(self, script: str | Path) -> str:
        """Short sha256 of the script and every module it reaches (names and bytes)."""
        h = hashlib.sha256()
        files = [Path(script), *self.reachable(script)]
        for f in files:
            name = f.name if f == Path(script) else str(f.relative_to(self.root))
            h.update(name.encode() + b"\0" + f.read_bytes() + b"\0")
        return h.hexdigest()[:16]
