"""The auditor's report of a run or a state file: how the runner accounted for money.

    build_report(result)                  -> Report   (a RunResult: scenario, expectations)
    build_report_from_state(state, name)  -> Report   (a state file alone)
    write_report(report, out_dir)         -> [report.md, report.html, report.json, ledger.csv]

The same run always gives byte-identical files: no clock, no randomness, Decimals only.
"""

from __future__ import annotations

from pathlib import Path

from harness.report.build import build_report, build_report_from_state
from harness.report.ledger_csv import render_ledger_csv
from harness.report.model import Report
from harness.report.reconcile import reconcile
from harness.report.render_html import render_html
from harness.report.render_json import render_json
from harness.report.render_md import render_markdown

FILES = ("report.md", "report.html", "report.json", "ledger.csv")


def write_report(report: Report, out_dir: Path) -> list[Path]:
    """Write the four files into out_dir (created if missing); returns their paths in that order."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    texts = (render_markdown(report), render_html(report), render_json(report), render_ledger_csv(report.ledger))
    paths = []
    for name, text in zip(FILES, texts, strict=True):
        path = out_dir / name
        path.write_bytes(text.encode("utf-8"))
        paths.append(path)
    return paths


__all__ = ["Report", "build_report", "build_report_from_state", "reconcile", "write_report"]
