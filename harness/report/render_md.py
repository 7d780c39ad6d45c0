"""The report as Markdown: the same sections and figures as the HTML, chart as a table."""

from __future__ import annotations

import re

from harness.audit.model import ChainAudit
from harness.report import tables
from harness.report.model import Report, plain
from harness.report.tables import Cell, Hash, Table

# Characters that start Markdown or HTML anywhere in a line: emphasis, code, links and
# images, raw HTML and entities, table cells, strikethrough. Each is backslash-escaped
# (CommonMark lets any ASCII punctuation be escaped), so text from a scenario or a state
# file renders as the characters it is, never as markup.
_INLINE = re.compile(r"([\\`*\[\]<>&|~!])")
_UNDERSCORE = re.compile(r"(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")  # intraword `_` is never emphasis
# ...and what only starts markup at the beginning of a line: headings, quotes, lists,
# setext underlines, numbered lists.
_LINE_START = re.compile(r"^(\s*)([#>+=-]|\d+[.)])")


def md_text(text: str) -> str:
    """User text (names, descriptions, reasons, notes) as literal Markdown on one line."""
    one_line = " ".join(text.split())
    return _UNDERSCORE.sub(r"\\_", _INLINE.sub(r"\\\1", one_line))


def md_block(text: str) -> str:
    """User text that starts a line (a paragraph): also escape what opens a block
    (the marker itself, or a numbered list's `.`/`)`: a backslash before a digit is literal)."""
    def escape(m: re.Match[str]) -> str:
        marker = m.group(2)
        return m.group(1) + (marker[:-1] + "\\" + marker[-1] if marker[0].isdigit() else "\\" + marker)

    return _LINE_START.sub(escape, md_text(text))


_esc = md_text  # every user text the report prints, in a cell or a line


def _cell(cell: Cell) -> str:
    if isinstance(cell, Hash):
        return _esc(cell.short) or " "
    return _esc(str(cell)) or " "


def _table(t: Table) -> list[str]:
    if not t.rows:
        return ["_none_", ""]
    head = "| " + " | ".join(_esc(h) or " " for h in t.headers) + " |"
    align = "|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.headers))) + "|"
    body = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return [head, align, *body, ""]


def _audit(report: Report, audit: ChainAudit) -> list[str]:
    out = [f"Rebuilt from the chain alone (the vault's and every token's logs over blocks {audit.first_block}-"
           f"{audit.last_block}, balances read around every rebase and interest accrual), then compared with "
           "the ledger line by line. A flagged line is explained when the runner's own accounting check "
           "measured exactly that difference.", ""]
    out += ["### Classes", ""] + _table(tables.audit_counts(audit))
    out += ["### Per asset", ""] + _table(tables.audit_books(report, audit))
    out += ["### Line by line against the ledger", ""] + _table(tables.audit_rows(report, audit))
    if audit.notes:
        out += ["### What the audit could not square", ""] + [f"- {_esc(n)}" for n in audit.notes] + [""]
    if audit.ignored_logs:
        out += ["Logs that move no balance, counted and left out: "
                + _esc(", ".join(f"{k} {v}" for k, v in audit.ignored_logs.items())) + ".", ""]
    out += ["### Every chain line", ""] + _table(tables.audit_lines(report, audit))
    return out


def render_markdown(report: Report, files: list[str] | None = None) -> str:
    rec = report.reconciliation
    out = [f"# Auditor's report: {_esc(report.name)}", ""]
    if report.description:
        out += [md_block(report.description), ""]
    out += [f"- **{_esc(k)}**: {_esc(v)}" for k, v in tables.facts(report)]
    out.append("")

    out += ["## Summary: what needs attention", ""]
    for item in report.summary:
        count = "none" if item.count == 0 else str(item.count)
        mark = "**PROBLEM** " if item.problem else ""
        detail = f" ({_esc(item.detail)})" if item.detail else ""
        rows = ": " + "; ".join(_esc(t) for t, _ in item.links) if item.links else ""
        out.append(f"- {mark}{_esc(item.label)}: {count}{detail}{rows}")
    out.append("")

    if report.source == "run":
        out += ["## Event timeline", ""]
        out += _table(tables.timeline(report))

    out += ["## NAV, cash and positions value over time", ""]
    out += _table(tables.statistics(report))

    out += ["## The books from the chain alone", ""]
    if report.audit is not None:
        out += _audit(report, report.audit)
    else:
        out += [f"**Chain view unavailable**: {_esc(report.audit_unavailable or '')}.", ""]

    out += ["## Closing reconciliation of the ledger", "",
            "starting capital + deposits - withdrawals + realised PnL + unrealised PnL + rebases "
            "+ interest + corrections - fees = final NAV", ""]
    out += _table(tables.reconciliation(report))
    verdict = "exactly zero" if rec.residual == 0 else f"NOT zero: {plain(rec.residual)} {_esc(rec.reserve_asset)}"
    out += [f"**Residual: {verdict}.**", ""]
    out += ["### What each line is", ""]
    out += [f"- **{_esc(line.label)}**: {_esc(line.definition)}" for line in rec.lines]
    out.append("")
    out += ["### Final NAV", ""]
    out += _table(tables.nav_composition(report))
    out += ["### Where a residual would come from", ""]
    out += _table(tables.residual_terms(report))
    if rec.notes:
        out += ["### Notes", ""]
        out += [f"- {_esc(n)}" for n in rec.notes]
        out.append("")
    out += ["### Per position", ""]
    out += _table(tables.positions(report))
    out += ["### Cross-checks of the runner's own figures", "",
            "Not part of the residual: each compares a figure the runner keeps with the same "
            "figure recomputed from its records.", ""]
    out += _table(tables.cross_checks(report))

    out += ["## Deposits, withdrawals, rebases, interest and corrections", ""]
    out += _table(tables.movements(report))
    out += ["## Trades", ""]
    out += _table(tables.trades(report))
    out += ["## Repaired trades", ""]
    out += _table(tables.repairs(report))
    out += ["## Accounting checks", ""]
    if not report.checks:
        out += ["_none_", ""]
    else:
        out += ["Consecutive checks that were all ok with the same differences are folded into one row; "
                "every other check has its own table. checks.csv has every row.", ""]
        out += _table(tables.checks_overview(report))
        for g in tables.check_groups(report):
            if not g.folded:
                out += [f"### {_esc(tables.check_heading(g.checks[0]))}", ""]
                out += _table(tables.check_rows(report, g.checks[0]))
    if report.source == "run":
        out += ["## Expectations", ""]
        out += _table(tables.expectations(report))
        out += ["## Invariant violations", ""]
        out += _table(tables.violations(report))
    out += ["## Files", "",
            f"`ledger.csv` holds the {len(report.ledger)} ledger movements (balance updates, trade "
            "settlements, repairs and corrections), one a row, in time order. Every table above is also a "
            "CSV file, amounts in their asset's decimals:", ""]
    out += [f"- `{f}`" for f in files or []]
    return "\n".join(out).rstrip("\n") + "\n"
