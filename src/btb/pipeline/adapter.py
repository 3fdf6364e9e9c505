"""What every workflow script shares: logging to the rule's log file and a clean error on failure."""

from __future__ import annotations

import errno
import logging
import os
import sys
from collections.abc import Callable
from typing import Any

from btb.errors import BTBError

DISK_FULL = (errno.ENOSPC, errno.EDQUOT)


def run(snakemake: Any, body: Callable[[Any], None]) -> None:
    """Run ``body(snakemake)``; known errors end the job with one clear line (also in the log)."""
    log_file = snakemake.log[0] if len(snakemake.log) else None
    logging.basicConfig(
        filename=log_file,
        level=logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        force=True,
    )
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
    logging.getLogger("btb").error("%s", message)
    print(f"btb error in rule {snakemake.rule}: {message}", file=sys.stderr)
    sys.exit(1)
