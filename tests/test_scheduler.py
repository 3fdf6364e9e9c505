"""The scheduler fix (btb.pipeline.scheduler): one pending wake-up instead of one more per finished job."""

from __future__ import annotations

import inspect
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import SimpleNamespace

from btb.pipeline.scheduler import PATCHED, keep_one_wakeup, one_wakeup

REPO = Path(__file__).resolve().parents[1]


class FakeTimer:
    """Records timers instead of starting threads, so that the test does not depend on the machine's load."""

    started: list[FakeTimer] = []

    def __init__(self, interval: float, function) -> None:
        self.interval, self.function, self.daemon = interval, function, False

    def start(self) -> None:
        FakeTimer.started.append(self)


def test_many_requests_make_one_daemon_wakeup_and_later_ones_work_again(monkeypatch) -> None:
    from btb.pipeline import scheduler as module

    monkeypatch.setattr(module.threading, "Timer", FakeTimer)
    FakeTimer.started = []
    scheduler = SimpleNamespace(_open_jobs=threading.Semaphore(0))
    wake = one_wakeup()
    for _ in range(50):
        wake(scheduler, 1.0)
    assert len(FakeTimer.started) == 1 and FakeTimer.started[0].daemon
    wake(scheduler, 0.01)  # due sooner than the pending one (a rate-limit wake-up under a longer one): its own
    assert len(FakeTimer.started) == 2
    FakeTimer.started[1].function()
    FakeTimer.started[0].function()  # the older one still wakes the scheduler: harmless, and never lost
    assert scheduler._open_jobs.acquire(blocking=False) and scheduler._open_jobs.acquire(blocking=False)
    assert not scheduler._open_jobs.acquire(blocking=False)
    wake(scheduler, 1.0)  # nothing pending any more: the next round's request starts a new wake-up
    assert len(FakeTimer.started) == 3


def test_a_real_timer_wakes_the_scheduler() -> None:
    scheduler = SimpleNamespace(_open_jobs=threading.Semaphore(0))
    one_wakeup()(scheduler, 0.01)
    assert scheduler._open_jobs.acquire(timeout=10)


def test_the_installed_snakemake_still_has_the_hook_it_replaces(monkeypatch) -> None:
    from snakemake.scheduling import job_scheduler

    original = job_scheduler.JobScheduler._schedule_reevalutation
    # what the fix assumes: a timer per call that releases the scheduler's semaphore
    source = inspect.getsource(getattr(original, "__wrapped__", None) or original)
    assert "threading.Timer" in source and "_open_jobs.release" in source
    monkeypatch.setattr(job_scheduler.JobScheduler, "_schedule_reevalutation", original)
    assert keep_one_wakeup() and keep_one_wakeup()  # idempotent
    assert getattr(job_scheduler.JobScheduler._schedule_reevalutation, PATCHED)


SNAKEFILE = """
import sys
sys.path.insert(0, {src!r})
if config.get("fix"):
    from btb.pipeline.scheduler import keep_one_wakeup
    keep_one_wakeup()

rule all:
    input: expand("out/{{i}}.b", i=range(30))

rule a:
    output: "out/{{i}}.a"
    shell: "sleep 0.05; touch {{output}}"

rule b:
    input: "out/{{i}}.a"
    output: "out/{{i}}.b"
    shell: "sleep 0.05; touch {{output}}"
"""


def scheduling_rounds(tmp_path: Path, fix: bool) -> tuple[int, float]:
    work = tmp_path / ("fixed" if fix else "plain")
    work.mkdir()
    (work / "Snakefile").write_text(SNAKEFILE.format(src=str(REPO / "src")), encoding="utf-8")
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "2", "--verbose", "--config", f"fix={fix}"],
                         cwd=work, capture_output=True, text=True, check=True)
    wall = time.perf_counter() - t0
    return (out.stdout + out.stderr).count("Resources before job selection"), wall


def test_a_real_run_schedules_about_once_per_job_with_the_fix(tmp_path: Path) -> None:
    """60 jobs on 2 cores: without the fix, every finished job adds a wake-up a second for the rest of the run."""
    plain, _ = scheduling_rounds(tmp_path, fix=False)
    fixed, wall = scheduling_rounds(tmp_path, fix=True)
    # at most one round per finished job, plus one wake-up a second
    assert fixed <= 60 + wall + 5, (fixed, plain, wall)
    assert plain > fixed, (fixed, plain)
