"""Scenario files through `harness run`, one process for the whole batch, one verdict per
file on stdout as a JSON line.

    python -m tests.hostile.run_cases OUT_DIR FILE...

Starting one interpreter per case would cost a second each; in one process the batch
costs what the runs cost. Each run gets the same entry point as the command line
(`harness.cli.main`), a time limit (SIGALRM: a run past it counts as a hang) and the
caller's memory cap (RLIMIT_AS: an allocation past it raises MemoryError, which counts
as an escaped exception). Anything that escapes `main` is what a user would have seen
as a traceback.
"""

from __future__ import annotations

import io
import json
import signal
import sys
import traceback
from contextlib import redirect_stderr, redirect_stdout
from pathlib import Path
from typing import Any

from harness.cli import main as harness_main

CASE_SECONDS = 30  # a bundled scenario runs in about a second on revm


class CaseTimeout(BaseException):
    """Raised by the alarm: a BaseException, so that no `except Exception` in the code
    under test can swallow it and make a hang look like a clean exit."""


def _expire(signum: int, frame: Any) -> None:
    raise CaseTimeout


def run_case(path: Path, out: Path) -> dict[str, Any]:
    err, std = io.StringIO(), io.StringIO()
    verdict: dict[str, Any] = {"file": str(path), "exit": None, "escaped": None, "hang": False}
    signal.signal(signal.SIGALRM, _expire)
    with redirect_stderr(err), redirect_stdout(std):
        signal.alarm(CASE_SECONDS)
        try:
            verdict["exit"] = harness_main(["run", str(path), "--backend", "revm", "--quiet", "--out", str(out)])
        except CaseTimeout:
            verdict["hang"] = True
        except SystemExit as exc:  # argparse; never expected with these arguments
            verdict["exit"] = exc.code
        except BaseException:  # noqa: BLE001 - the point: whatever escapes is a finding
            verdict["escaped"] = traceback.format_exc()[-4000:]
        finally:
            signal.alarm(0)
    verdict["stderr"] = err.getvalue()[-4000:]
    verdict["stdout"] = std.getvalue()[-4000:]
    return verdict


def main(argv: list[str]) -> int:
    out_root = Path(argv[0])
    for index, name in enumerate(argv[1:]):
        verdict = run_case(Path(name), out_root / f"run{index:03}")
        print(json.dumps(verdict), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
