"""The auditor's report of a run or a state file: how the runner accounted for money.

    build_report(result)                  -> Report   (a RunResult: scenario, expectations, chain audit)
    build_report_from_state(state, name)  -> Report   (a state file alone; audit=... when built on a node)
    write_report(report, out_dir)         -> [report.md, report.html, report.json, ledger.csv, *tables.csv]
    write_pdf(report, html_path)          -> report.pdf (headless Chromium; harness.report.commands)

The same run always gives byte-identical files: no clock, no randomness, Decimals only.
"""

from __future__ import annotations

from pathlib import Path

from harness.report.build import build_report, build_report_from_state
from harness.report.commands import write_pdf
from harness.report.ledger_csv import render_ledger_csv
from harness.report.model import Report
from harness.report.reconcile import reconcile
from harness.report.render_html import render_html
from harness.report.render_json import render_json
from harness.report.render_md import render_markdown
from harness.report.tables import csv_tables
from harness.report.tables_csv import render_table_csv
from runner.state.files import commit_temp, discard, write_error, write_temp

FILES = ("report.md", "report.html", "report.json", "ledger.csv")


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Write the report into out_dir (created if missing): the four main files, then one CSV
    per table; returns their paths in that order.

    Every file is written to a temp file and fsync'd before any is renamed into place, so
    a full disk or an I/O error leaves the previous report as it was (and no temp file)
    and raises StateWriteError naming the file; no reader ever sees a truncated file."""
    out_dir = Path(out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise write_error(out_dir, exc, "cannot create the report directory") from None
    extra = [(f"{t.name}.csv", render_table_csv(t)) for t in csv_tables(report)]
    names = [name for name, _ in extra]
    texts = [render_markdown(report, names), render_html(report, names), render_json(report),
             render_ledger_csv(report.ledger)]
    files = [*zip(FILES, texts, strict=True), *extra]
    paths = [out_dir / name for name, _ in files]
    temps: list[Path] = []
    try:
        for path, (_name, text) in zip(paths, files, strict=True):
            temps.append(write_temp(path, text.encode("utf-8")))
        for tmp, path in zip(temps, paths, strict=True):
            commit_temp(tmp, path)
    finally:
        for tmp in temps:
            discard(tmp)  # already renamed (gone) unless something failed
    return paths


__all__ = ["Report", "build_report", "build_report_from_state", "reconcile", "write_pdf", "write_report"]
