"""What every workflow script shares: logging to the rule's log file and a clean error on failure."""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from btb.errors import BTBError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def withhold_inputs(snakemake: Any) -> dict[str, str]:
    """Under ``input_ids: opaque`` with an ``input_dir``, the job's files inside that folder (whose names may
    identify a participant) are recorded and logged as ``input:<video id>``; returns {path: label}."""
    config = getattr(snakemake, "config", None) or {}
    root = config.get("input_dir")
    if not root or config.get("input_ids", "opaque") != "opaque":
        return {}
    from btb.audit.hashing import withhold_path

    root_dir = Path(root).absolute().resolve()
    label = f"input:{dict(snakemake.wildcards).get('vid', 'unknown')}"
    shown: dict[str, str] = {}
    for value in [*snakemake.input, *[v for v in snakemake.params if isinstance(v, str | Path)]]:
        if isinstance(value, str | Path) and str(value) and root_dir in Path(value).absolute().resolve().parents:
            withhold_path(value, label)
            shown[str(value)] = label
            shown[str(Path(value).absolute().resolve())] = label
    return shown


class _Redact(logging.Filter):
    """Replaces withheld paths in every log message with their labels."""

    def __init__(self, shown: dict[str, str]) -> None:
        super().__init__()
        self.pairs = sorted(shown.items(), key=lambda kv: -len(kv[0]))  # longest first: resolved before given

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if record.exc_info:  # the traceback is text of the message too
            message += "\n" + logging.Formatter().formatException(record.exc_info)
            record.exc_info, record.exc_text = None, None
        for path, label in self.pairs:
            message = message.replace(path, label)
        record.msg, record.args = message, None
        return True


def run(snakemake: Any, body: Callable[[Any], None]) -> None:
    """Run ``body(snakemake)``; known errors end the job with one clear line (also in the log)."""
    log_file = snakemake.log[0] if len(snakemake.log) else None
    logging.basicConfig(
        filename=log_file,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
    shown = withhold_inputs(snakemake)
    if shown:
        for handler in logging.getLogger().handlers:
            handler.addFilter(_Redact(shown))
    logging.getLogger("btb").info("rule %s wildcards %s", snakemake.rule, dict(snakemake.wildcards))
    try:
        body(snakemake)
    except BTBError as exc:
        _fail(snakemake, str(exc))
    except OSError as exc:
        if exc.errno not in DISK_FULL:
            raise
        # a full disk or quota: name what was being written (the job's outputs when Python did not say)
        where = exc.filename or ", ".join(str(o) for o in snakemake.output)
        _fail(snakemake, f"{os.strerror(exc.errno).lower()} while writing {where} ({exc})")
    except Exception as exc:
        # unexpected: keep the traceback, and one line in the log that the run summary can quote
        logging.getLogger("btb").exception("unexpected %s: %s", type(exc).__name__, exc)
        raise
    logging.getLogger("btb").info("done")


def _fail(snakemake: Any, message: str) -> None:
    """End the job with one clear line, in the rule's log (which the run summary quotes) and on stderr."""
    logging.getLogger("btb").error("%s", message)  # withheld input paths are replaced by their labels here
    print(f"btb error in rule {snakemake.rule}: {message}", file=sys.stderr)  # the terminal names the file
    sys.exit(1)
