"""`harness`: run, check, create and describe scenario files from the command line.

    harness run FILE [--backend eth-tester|anvil|revm] [--seed N] [--out DIR] [--log-level LEVEL] [--max-instants N]
    harness check FILE... [--max-instants N]
    harness new NAME [--dir scenarios]
    harness schema
    harness fuzz --seed S --runs N [...]    (harness/fuzz/cli.py)

Imports of the chain and the runner are deferred to the commands that need them, so
`harness --help` and `harness check` stay fast.
"""

from __future__ import annotations

import argparse
import os
import re
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TextIO

from harness.errors import HarnessError

if TYPE_CHECKING:
    from harness.scenario.model import Scenario

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
RUNS_DIR = "runs"  # `harness run` writes to runs/<scenario name>/ unless --out says otherwise
FORK_TAKEOVER = ("a fresh runner on a fork finds what the history left (deposits, tokens bought) as "
                 "unexplained balances; `accounting: {on_mismatch: correct}` books them and carries on, "
                 "abort stops at the first check, report leaves the ledger short (README: Forks)")


def _out(stream: TextIO, text: str = "") -> None:
    if stream is sys.stderr:
        sys.stdout.flush()
    stream.write(text + "\n")


def cmd_check(args: argparse.Namespace) -> int:
    from harness.scenario import load_scenario

    _strategies_from_here()
    status = EXIT_OK
    for path in args.files:
        try:
            scenario = load_scenario(path, max_instants=args.max_instants)
        except HarnessError as exc:
            _out(sys.stderr, str(exc))
            status = EXIT_FAILED
            continue
        except OSError as exc:
            _out(sys.stderr, f"{path}: cannot read: {exc.strerror}")
            status = EXIT_FAILED
            continue
        _out(sys.stdout, f"{path}: ok ({scenario.name}: {len(scenario.timeline)} events, {len(scenario.expect)} expectations)")
    return status


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from harness.scenario import scenario_json_schema

    _out(sys.stdout, json.dumps(scenario_json_schema(), indent=2))
    return EXIT_OK


def cmd_new(args: argparse.Namespace) -> int:
    from harness.scenario import render_template

    target = Path(args.dir) / f"{args.name}.yaml"
    if target.exists():
        _out(sys.stderr, f"{target} already exists; not overwriting it")
        return EXIT_FAILED
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(render_template(args.name))
    _out(sys.stdout, f"wrote {target}: edit it, then `harness check {target}` and `harness run {target}`")
    return EXIT_OK


def _progress_bar() -> Callable[[int, int], None]:
    """A rich progress bar for interactive runs; never in logs (stdout not a TTY)."""
    from rich.progress import Progress

    bar = Progress(transient=True)
    task = None

    def update(index: int, total: int) -> None:
        nonlocal task
        if index < 0:
            bar.stop()
            return
        if task is None:
            if total < 200:
                return
            bar.start()
            task = bar.add_task("simulating", total=total)
        bar.update(task, completed=index + 1)

    return update


def _os_error(exc: OSError, fallback: object) -> str:
    """One line for an OSError: the file it names (or `fallback`) and the OS's reason."""
    where = exc.filename if exc.filename is not None else fallback
    return f"{where}: {exc.strerror or exc}"


def _top_level_line(path: str, key: str) -> int:
    """The line of a top-level key in the file the scenario was loaded from (1 when it is
    not written out): errors found after loading are located like the loader's."""
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return 1
    pattern = re.compile(rf"^{re.escape(key)}\s*:")
    return next((n for n, line in enumerate(lines, start=1) if pattern.match(line)), 1)


def _shown_url(url: str) -> str:
    """A fork URL as it may be printed: a history scenario's path, or an RPC URL without
    its credentials and API key."""
    from runner.chain.rpc import redact_url

    return url if url.startswith("scenario:") else redact_url(url)


def _fork_problem(scenario: Scenario, backend: str | None) -> str | None:
    """`--backend` other than anvil-fork on a fork scenario would run it without its fork."""
    if scenario.chain.backend != "anvil-fork" or backend in (None, "anvil-fork", "revm"):
        return None  # revm forks in process: the same fork, another engine
    return (f"{scenario.source.path}:{_top_level_line(scenario.source.path, 'chain')}: chain.backend: "
            f"the scenario forks {_shown_url(scenario.chain.fork_url or '')} at block "
            f"{scenario.chain.fork_block} (anvil-fork); --backend {backend} would run it without the fork: "
            "leave --backend out (or pass --backend anvil-fork, or revm to fork in process)")


def _strategies_from_here() -> None:
    """Strategy modules of the project you run in are importable, as with `python -m`
    (appended: an installed module of the same name wins)."""
    here = os.getcwd()
    if here not in sys.path:
        sys.path.append(here)


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario into its output directory, holding the directory's lock throughout."""
    from harness.logs import RUN_LOG, level_number, run_logging
    from runner.state import StateError, StateLock, remove_leftovers

    _strategies_from_here()
    try:
        scenario = _load_for_run(args)
    except HarnessError as exc:
        _out(sys.stderr, str(exc))
        return EXIT_FAILED
    out_dir = Path(args.out) if args.out else Path(RUNS_DIR) / scenario.name
    lock = None
    try:
        try:
            out_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            _out(sys.stderr, f"{out_dir}: cannot write the run's output there: {exc.strerror or exc}")
            return EXIT_FAILED
        lock = StateLock(out_dir / "state.json", purpose="another harness run").acquire()
        remove_leftovers(out_dir / "state.json")  # temp files and segments of killed runs
        if scenario.chain.fork_url is not None and scenario.accounting.on_mismatch != "correct":
            _out(sys.stdout, f"note: {scenario.source.path}: accounting.on_mismatch is "
                 f"{scenario.accounting.on_mismatch}: " + FORK_TAKEOVER)
        with run_logging(level_number(args.log_level), out_dir / RUN_LOG):
            return _run(args, scenario, out_dir)
    except StateError as exc:  # a lock held by another run, a save that failed, a state that fails its checks
        _out(sys.stderr, str(exc))
        return EXIT_FAILED
    except OSError as exc:
        _out(sys.stderr, _os_error(exc, out_dir or args.file))
        return EXIT_FAILED
    finally:
        if lock is not None:
            lock.release()


def _load_for_run(args: argparse.Namespace) -> Any:
    from harness.scenario import check_for_backend, load_scenario

    try:
        scenario = load_scenario(args.file, max_instants=args.max_instants)
    except OSError as exc:
        raise HarnessError(f"{args.file}: cannot read: {exc.strerror or exc}") from None
    fork = _fork_problem(scenario, args.backend)
    if fork:
        raise HarnessError(fork)
    if args.backend:
        check_for_backend(scenario, args.backend)
    return scenario


def _crashed(scenario: Scenario, exc: Exception, out_dir: Path) -> str:
    """The one line a crash of the runner (or of the harness) gets, as `harness fuzz` names
    it (`crash:<type>`): a replayed incident that crashes is a finding, not bad input, and
    its traceback is kept beside the run's log for whoever debugs it."""
    import traceback

    from runner.state import atomic_write

    path = out_dir / "crash.txt"
    atomic_write(path, "".join(traceback.format_exception(exc)).encode())
    first = str(exc).splitlines()[0] if str(exc) else ""
    return (f"{scenario.source.path}: run crashed (crash:{type(exc).__name__}): {type(exc).__name__}: {first}; "
            f"traceback in {path}")


def _run(args: argparse.Namespace, scenario: Scenario, out_dir: Path) -> int:
    from harness.chains import ChainPool
    from harness.engine import ScenarioRun
    from harness.journal import JOURNAL_HEADER, format_journal_row
    from harness.logs import RUN_LOG
    from harness.result import fingerprint, replay_command
    from harness.snapshot import render, snapshot_document
    from runner.state import PositionState, atomic_write

    pool = ChainPool(anvil_url=args.rpc)
    progress = _progress_bar() if sys.stdout.isatty() and not args.quiet else None
    run = ScenarioRun(scenario, backend=args.backend, seed=args.seed, state_dir=out_dir, pool=pool,
                      restart_after_crash=not args.no_restart, progress=progress)
    _out(sys.stdout, "fingerprint: " + fingerprint(scenario, run.seed, run.backend))
    _out(sys.stdout, f"output: {out_dir}/ (state.json, snapshot.json, {RUN_LOG})")
    try:
        result = run.run()
    except HarnessError as exc:
        _out(sys.stderr, str(exc))
        return EXIT_FAILED
    except Exception as exc:  # noqa: BLE001 - an unexpected error: one line here, the traceback in a file
        _out(sys.stderr, _crashed(scenario, exc, out_dir))
        return EXIT_FAILED
    finally:
        pool.close()
        if progress is not None:
            progress(-1, 0)
    if not args.quiet:
        _out(sys.stdout, JOURNAL_HEADER)
        for entry in result.journal:
            _out(sys.stdout, format_journal_row(entry))
    state = result.state
    p = state.portfolio
    _out(sys.stdout)
    _out(sys.stdout, f"final: NAV {p.nav()} cash {p.cash()} positions {p.positions_value()} after {state.cycle} cycles")
    for pos in sorted(p.all_positions(), key=lambda x: x.position_id):
        st = f"closed ({pos.closed_by})" if pos.state == PositionState.closed else pos.state.value
        _out(sys.stdout, f"  #{pos.position_id} {pos.pair:<12} {st:<22} qty {pos.quantity} value {p.position_value(pos)}")
    for r in result.repaired:
        _out(sys.stdout, f"  repaired trade #{r['trade_id']}: {r['status']} ({r['reason']})")
    failed = result.failed_expectations
    for e in result.expectations:
        mark = "ok  " if e.passed else "FAIL"
        _out(sys.stdout, f"  {mark} {scenario.source.path}:{e.line} expect {e.kind}: {e.message}")
    for v in result.violations:
        _out(sys.stdout, f"  {'FAIL' if v in result.unexpected_violations else 'ok  '} {v}".split("\n  replay")[0])
    _out(sys.stdout, f"invariants: {result.invariant_checks} checks, {len(result.violations)} violation(s)")
    if result.error:
        _out(sys.stdout, f"run stopped: {result.error}")
    atomic_write(out_dir / "snapshot.json", render(snapshot_document(result)))
    _out(sys.stdout, f"wrote {out_dir / 'state.json'}, {out_dir / 'snapshot.json'} and {out_dir / RUN_LOG}")
    if args.report:
        from harness.report import build_report, write_report

        report = build_report(result)
        paths = write_report(report, Path(args.report))
        if args.pdf:
            from harness.report.commands import write_pdf

            paths.append(write_pdf(report, paths[1]))
        _out(sys.stdout, f"report: {', '.join(str(p) for p in paths)}")
        _out(sys.stdout, f"reconciliation residual: {report.reconciliation.residual}")
    else:
        state_file = shlex.quote(str(out_dir / "state.json"))
        _out(sys.stdout, f"next: harness report {state_file} --out {shlex.quote(str(out_dir / 'report'))}"
             "   (the auditor's report of this run)")
    _out(sys.stdout, "replay: " + replay_command(scenario, result.seed, result.backend))
    if failed or result.unexpected_error or result.unexpected_violations:
        return EXIT_FAILED
    return EXIT_OK


def cmd_report(args: argparse.Namespace) -> int:
    """The report of a state file; a state that fails its checksums or invariants is refused.

    No lock: a save commits by one rename, so a reader sees the last complete save even
    while a run is writing."""
    from harness.report import build_report_from_state, write_report
    from harness.report.commands import audit_from_node, write_pdf
    from runner.state import StateError, open_store

    path = Path(args.state_file)
    try:
        state = open_store(path).load()
        audit = audit_from_node(state, args.scenario, args.rpc, args.from_block) if args.rpc else None
        report = build_report_from_state(state, args.name or state.name, audit=audit)
        paths = write_report(report, Path(args.out))
        if args.pdf:
            paths.append(write_pdf(report, paths[1]))
    except (StateError, HarnessError) as exc:
        _out(sys.stderr, str(exc))
        return EXIT_FAILED
    except OSError as exc:
        _out(sys.stderr, _os_error(exc, path))
        return EXIT_FAILED
    _out(sys.stdout, f"report: {', '.join(str(p) for p in paths)}")
    _out(sys.stdout, "chain view: " + (f"{audit.counts} ({audit.unexplained} unexplained)" if audit
                                       else "unavailable (a state file alone; --rpc URL --scenario FILE builds it)"))
    _out(sys.stdout, f"reconciliation residual: {report.reconciliation.residual}")
    return EXIT_OK


def cmd_repair(args: argparse.Namespace) -> int:
    """--apply repairs under the state file's lock: no run or other repair writes it
    meanwhile. A dry run only reads (the last committed save, like `harness report`)."""
    from contextlib import nullcontext

    from harness.repair_cli import run_repair
    from harness.scenario import load_scenario
    from runner.state import StateError, StateLock, remove_leftovers

    path = Path(args.state_file)
    try:
        scenario = load_scenario(args.scenario)
        lock = StateLock(path, purpose="another harness process") if args.apply else nullcontext()
        with lock:
            if args.apply:
                remove_leftovers(path)
            code, lines = run_repair(path, scenario, args.rpc, args.apply)
    except (HarnessError, StateError) as exc:
        _out(sys.stderr, str(exc))
        return EXIT_FAILED
    except OSError as exc:
        _out(sys.stderr, _os_error(exc, path))
        return EXIT_FAILED
    for line in lines:
        _out(sys.stdout, line)
    return code


def _log_level(text: str) -> str:
    from harness.logs import LEVELS

    if text.upper() not in LEVELS:
        raise argparse.ArgumentTypeError(f"expected one of {', '.join(LEVELS)}, found {text!r}")
    return text.upper()


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, found {text!r}")
    return value


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="harness", description="Deterministic scenario harness for the strategy runner.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run one scenario file and print its journal")
    run.add_argument("file")
    run.add_argument("--backend", choices=("eth-tester", "anvil", "anvil-fork", "revm"), default=None,
                     help="override the scenario's chain backend")
    run.add_argument("--seed", type=int, default=None, help="override the scenario's seed")
    run.add_argument("--out", default=None, metavar="DIR",
                     help=f"directory for state.json, snapshot.json and run.log (default: {RUNS_DIR}/<scenario name>)")
    run.add_argument("--log-level", default="WARNING", type=_log_level, metavar="LEVEL",
                     help="print the runner's and harness's log records at LEVEL and above on stderr: "
                          "DEBUG, INFO, WARNING (default) or ERROR; run.log always gets every record")
    run.add_argument("--quiet", action="store_true", help="do not print the journal")
    run.add_argument("--report", default=None, metavar="DIR",
                     help="write the auditor's report (report.md, .html, .json, ledger.csv) to DIR")
    run.add_argument("--pdf", action="store_true", help="with --report: also report.pdf (headless Chromium)")
    run.add_argument("--rpc", default=None,
                     help="use this running anvil instead of starting one (--backend anvil): a scenario with "
                          "universe.adopt takes over the contracts there; a world is never deployed over one "
                          "already there")
    run.add_argument("--no-restart", action="store_true",
                     help="a crash event stops the run (state left as the dead process left it)")
    run.add_argument("--max-instants", type=_positive, default=None, metavar="N",
                     help="allow runs of up to N instants (ticks plus trigger checks; default 10000)")
    run.set_defaults(func=cmd_run)
    check = sub.add_parser("check", help="validate scenario files without running them")
    check.add_argument("files", nargs="+")
    check.add_argument("--max-instants", type=_positive, default=None, metavar="N",
                       help="allow runs of up to N instants (ticks plus trigger checks; default 10000)")
    check.set_defaults(func=cmd_check)
    new = sub.add_parser("new", help="write a commented scenario template")
    new.add_argument("name")
    new.add_argument("--dir", default="scenarios")
    new.set_defaults(func=cmd_new)
    report = sub.add_parser("report", help="write the auditor's report of a state file")
    report.add_argument("state_file")
    report.add_argument("--out", default="report", help="output directory (default: ./report)")
    report.add_argument("--name", default=None, help="title (default: the state's name)")
    report.add_argument("--pdf", action="store_true", help="also report.pdf, printed by headless Chromium")
    report.add_argument("--rpc", default=None, metavar="URL", help="build the chain view against this node")
    report.add_argument("--scenario", default=None, metavar="FILE", help="with --rpc: the scenario (its universe)")
    report.add_argument("--from-block", type=_positive, default=1, metavar="N", help="with --rpc: first block audited")
    report.set_defaults(func=cmd_report)
    repair = sub.add_parser("repair", help="resolve a dead runner's unfinished trades against a node")
    repair.add_argument("state_file")
    repair.add_argument("--scenario", required=True, help="the scenario file the state belongs to (its universe)")
    repair.add_argument("--rpc", required=True, help="JSON-RPC URL of the node (e.g. a running anvil)")
    repair.add_argument("--apply", action="store_true", help="write the repaired state (default: dry run)")
    repair.set_defaults(func=cmd_repair)
    schema = sub.add_parser("schema", help="print the scenario JSON Schema")
    schema.set_defaults(func=cmd_schema)
    from harness.fuzz.cli import add_parser as add_fuzz  # `harness fuzz`: harness/fuzz/cli.py

    add_fuzz(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return int(args.func(args))
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `harness check ... | head`: the reader left, not an error
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
