"""A fix, applied from the Snakefile, for Snakemake's scheduler busying a core on runs with many jobs.

Snakemake 9 (checked up to 9.27.1, the pinned version) rate-limits job starts (``--max-jobs-per-timespan``,
default 100/1s) and, after every scheduling round that had jobs ready, starts a ``threading.Timer`` that wakes
the scheduler again one timespan later. The woken round starts another timer, so every job completion starts
a chain of wake-ups that lasts while jobs are waiting: after k jobs have finished, the scheduler runs up to k
rounds a second, and each round checks the inputs of every ready job. On 40 one-second clips (520 jobs) the
Snakemake process spent 202-227 CPU seconds scheduling, on a machine with 2 cores for the jobs themselves; 24
with this fix (docs/performance.md, "Fixed cost per video").

:func:`keep_one_wakeup` makes the wake-up idempotent: at most one timer is pending at any time, so the
scheduler still looks again one timespan after any round (all the rate limit needs) and job completions still
wake it at once. The timer is a daemon thread, so a finished run does not wait for it to fire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

PATCHED = "_btb_one_wakeup"
SLACK_S = 0.05  # a request due this much after the pending wake-up is served by it


def one_wakeup(original: Callable[[Any, float], None] | None = None) -> Callable[[Any, float], None]:
    """A ``_schedule_reevalutation(self, delay)`` that keeps at most one wake-up pending per scheduler: a
    request due no sooner than the pending one is that wake-up; an earlier one (a 1 s rate-limit wake-up while
    a longer one is pending) starts its own timer."""

    def schedule_reevaluation(self: Any, delay: float) -> None:
        lock = self.__dict__.setdefault("_btb_wakeup_lock", threading.Lock())
        due = time.monotonic() + delay
        with lock:
            pending = self.__dict__.get("_btb_wakeup_due")
            if pending is not None and pending <= due + SLACK_S:
                return  # a wake-up is already on its way
            self._btb_wakeup_due = due

        def wake() -> None:
            with lock:
                if self.__dict__.get("_btb_wakeup_due") == due:
                    self._btb_wakeup_due = None
            self._open_jobs.release()

        timer = threading.Timer(delay, wake)
        timer.daemon = True  # a finished run does not wait for it
        try:
            timer.start()
        except BaseException:
            with lock:
                if self.__dict__.get("_btb_wakeup_due") == due:
                    self._btb_wakeup_due = None
            raise

    setattr(schedule_reevaluation, PATCHED, True)
    schedule_reevaluation.__wrapped__ = original  # type: ignore[attr-defined]
    return schedule_reevaluation


def keep_one_wakeup() -> bool:
    """Patch Snakemake's job scheduler (in this process) to keep one pending wake-up; True if patched now or
    before. An unknown Snakemake layout is left alone (False): the fix is only a speed-up."""
    try:
        from snakemake.scheduling import job_scheduler
    except ImportError:
        return False
    cls = getattr(job_scheduler, "JobScheduler", None)
    original = getattr(cls, "_schedule_reevalutation", None)
    if cls is None or original is None:
        return False
    if getattr(original, PATCHED, False):
        return True
    cls._schedule_reevalutation = one_wakeup(original)
    return True
