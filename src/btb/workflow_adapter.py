"""What every workflow script shares: logging to the rule's log file and a clean error on failure."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from typing import Any

from btb.errors import BTBError


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
        logging.getLogger("btb").error("%s", exc)
        print(f"btb error in rule {snakemake.rule}: {exc}", file=sys.stderr)
        sys.exit(1)
    except Exception as exc:
        # unexpected: keep the traceback, and one line in the log that the run summary can quote
        logging.getLogger("btb").exception("unexpected %s: %s", type(exc).__name__, exc)
        raise
    logging.getLogger("btb").info("done")
