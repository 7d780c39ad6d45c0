"""Logging set-up: the standard library's `logging`, one logger per module.

Every module of `runner/` and `harness/` logs through ``logging.getLogger(__name__)``, so
the two roots below are the whole tree. Levels, by what happened:

- DEBUG: each completed step of a tick, each instant of a scenario;
- INFO: a trade's outcome, a trade settled by repair, a progress report;
- WARNING: a trade repaired (it never reached the chain), an accounting mismatch and the
  correction booked for it, a fault injected by the harness, a crash;
- ERROR: a run that stopped.

Libraries configure nothing: the harness's entry points do. ``harness run`` prints
records at ``--log-level`` (default WARNING) on stderr and writes every record (DEBUG)
to ``run.log`` in its output directory; the pytest plugin lets pytest capture them at
``dst_log_level`` (default INFO) and shows them with a failed scenario. Records carry no
wall-clock time: the same run writes the same ``run.log``.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

LOGGERS = ("runner", "harness")
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
FORMAT = "%(levelname)-7s %(name)s: %(message)s"
RUN_LOG = "run.log"


def level_number(name: str) -> int:
    """``"INFO"`` -> 20; a clear error for anything else."""
    value = logging.getLevelName(name.upper())
    if not isinstance(value, int):
        raise ValueError(f"unknown log level {name!r}: expected one of {', '.join(LEVELS)}")
    return value


@contextlib.contextmanager
def logger_levels(level: int) -> Iterator[None]:
    """Let records at `level` and above out of the harness's loggers, then restore them."""
    loggers = [logging.getLogger(name) for name in LOGGERS]
    before = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(level)
    try:
        yield
    finally:
        for lg, old in zip(loggers, before, strict=True):
            lg.setLevel(old)


@contextlib.contextmanager
def run_logging(console_level: int, run_log: Path | None) -> Iterator[None]:
    """`harness run`: records at `console_level` on stderr, every record in `run_log`."""
    handlers: list[logging.Handler] = []
    console = logging.StreamHandler(sys.stderr)
    console.setLevel(console_level)
    console.setFormatter(logging.Formatter(FORMAT))
    handlers.append(console)
    if run_log is not None:
        run_log.parent.mkdir(parents=True, exist_ok=True)
        file = logging.FileHandler(run_log, mode="w", encoding="utf-8")
        file.setLevel(logging.DEBUG)
        file.setFormatter(logging.Formatter(FORMAT))
        handlers.append(file)
    lowest = logging.DEBUG if run_log is not None else console_level
    loggers = [logging.getLogger(name) for name in LOGGERS]
    for lg in loggers:
        for h in handlers:
            lg.addHandler(h)
    try:
        with logger_levels(lowest):
            yield
    finally:
        for lg in loggers:
            for h in handlers:
                lg.removeHandler(h)
        for h in handlers:
            h.close()


__all__ = ["FORMAT", "LEVELS", "LOGGERS", "RUN_LOG", "level_number", "logger_levels", "run_logging"]
