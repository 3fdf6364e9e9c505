"""Errors that name the file and the problem."""

from __future__ import annotations

from pathlib import Path


class BTBError(Exception):
    """Base class of errors that the command line reports without a traceback."""


class InputError(BTBError):
    """A user input (video, sample sheet, config) cannot be used."""

    def __init__(self, path: str | Path, problem: str) -> None:
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{path}: {problem}")


class ModelError(BTBError):
    """A model file is missing, cannot be fetched, or does not match its pinned sha256."""


class ToolError(BTBError):
    """An external tool (ffmpeg, ffprobe) failed."""
