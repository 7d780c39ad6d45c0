"""The report as Markdown: the same sections and figures as the HTML, chart as a table."""

from __future__ import annotations

import re

from harness.report import tables
from harness.report.model import Report, plain
from harness.report.tables import Table

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


def _cell(text: str) -> str:
    return md_text(text) or " "


def _table(t: Table) -> list[str]:
    if not t.rows:
        return ["_none_", ""]
    head = "| " + " | ".join(_cell(h) for h in t.headers) + " |"
    align = "|" + "|".join("---:" if i in t.numeric else "---" for i in range(len(t.headers))) + "|"
    body = ["| " + " | ".join(_cell(c) for c in row) + " |" for row in t.rows]
    return [head, align, *body, ""]


def render_markdown(report: Report) -> str:
    rec = report.reconciliation
    out = [f"# Auditor's report: {md_text(report.name).replace('#', chr(92) + '#')}", ""]
    if report.description:
        out += [md_block(report.description), ""]
    out += [f"- **{k}**: {_cell(v)}" for k, v in tables.facts(report)]
    out.append("")

    out += ["## Closing reconciliation", "",
            "starting capital + deposits - withdrawals + realised PnL + unrealised PnL + rebases "
            "+ interest + corrections - fees = final NAV", ""]
    out += _table(tables.reconciliation(report))
    verdict = "exactly zero" if rec.residual == 0 else f"NOT zero: {plain(rec.residual)} {md_text(rec.reserve_asset)}"
    out += [f"**Residual: {verdict}.**", ""]
    out += ["### What each line is", ""]
    out += [f"- **{md_text(line.label)}**: {md_text(line.definition)}" for line in rec.lines]
    out.append("")
    out += ["### Final NAV", ""]
    out += _table(tables.nav_composition(report))
    out += ["### Where a residual would come from", ""]
    out += _table(tables.residual_terms(report))
    if rec.notes:
        out += ["### Notes", ""]
        out += [f"- {md_text(n)}" for n in rec.notes]
        out.append("")
    out += ["### Per position", ""]
    out += _table(tables.positions(report))
    out += ["### Cross-checks of the runner's own figures", "",
            "Not part of the residual: each compares a figure the runner maintains with the same "
            "figure recomputed from its records.", ""]
    out += _table(tables.cross_checks(report))

    out += ["## NAV, cash and positions value over time", ""]
    out += _table(tables.statistics(report))
    out += ["## Deposits, withdrawals, rebases, interest and corrections", ""]
    out += _table(tables.movements(report))
    out += ["## Trades", ""]
    out += _table(tables.trades(report))
    out += ["## Repaired trades", ""]
    out += _table(tables.repairs(report))
    out += ["## Accounting checks", ""]
    if not report.checks:
        out += ["_none_", ""]
    for c in report.checks:
        out += [f"### {md_text(tables.check_heading(c))}", ""]
        out += _table(tables.check_rows(c))
    if report.source == "run":
        out += ["## Expectations", ""]
        out += _table(tables.expectations(report))
    out += ["## Ledger", "",
            f"`ledger.csv` holds the {len(report.ledger)} ledger movements (balance updates, trade "
            "settlements, repairs and corrections), one a row, in time order.", ""]
    return "\n".join(out).rstrip("\n") + "\n"
