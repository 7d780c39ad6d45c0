"""The report as one self-contained HTML page: inline CSS, inline SVG, no external URL.

Problems first: a summary linking every violation, flagged chain line, mismatch,
correction, repair, failed trade and restart to its row; then the event timeline, the
chart, the books from the chain alone, and the ledger's own reconciliation and tables.
A print stylesheet lays every table out on landscape pages with nothing cut off.
"""

from __future__ import annotations

from html import escape

from harness.audit.model import ChainAudit
from harness.report import tables
from harness.report.chart import render_chart
from harness.report.model import Report, plain
from harness.report.tables import Cell, Hash, Link, Table

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1b1f24; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccd; padding-bottom: 4px; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
p.description, p.lead { max-width: 70em; color: #333; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
nav.contents { margin: 12px 0; font-size: 14px; }
nav.contents a { margin-right: 12px; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d0d4dc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
td.num { text-align: right; font-family: ui-monospace, "DejaVu Sans Mono", monospace; white-space: nowrap; }
.hash { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
table.reconciliation td { font-size: 14px; }
table.reconciliation tr.total td { font-weight: 700; border-top: 2px solid #555; }
.residual-ok { color: #1d6b2f; font-weight: 700; }
.residual-bad { color: #b00020; font-weight: 700; }
tr.problem td { background: #fde8e8; }
tr.warning td { background: #fff6da; }
tr.ok td { color: #445; }
ul.summary { list-style: none; padding: 0; }
ul.summary li { margin: 4px 0; padding: 4px 8px; border-left: 4px solid #9aa1ad; }
ul.summary li.problem { border-color: #b00020; background: #fde8e8; }
ul.summary li.warning { border-color: #b7791f; background: #fff6da; }
ul.summary li.ok { border-color: #1d6b2f; display: inline-block; margin-right: 6px; color: #445; }
ul.summary .count { font-weight: 700; display: inline-block; min-width: 3em; }
ul.summary .links a { margin-right: 8px; white-space: nowrap; }
svg.chart { max-width: 100%; height: auto; background: #fff; }
svg.chart .grid line { stroke: #e1e4ea; stroke-width: 1; }
svg.chart .grid text, svg.chart text { font-size: 12px; fill: #333; font-family: sans-serif; }
svg.chart text.marker-label { fill: #fff; font-size: 10px; font-weight: 700; }
svg.chart rect.frame { fill: none; stroke: #9aa1ad; }
svg.chart .axis-title { font-weight: 600; }
.muted { color: #667; }
ul.definitions li { margin-bottom: 4px; max-width: 70em; }
:target td { outline: 2px solid #1f4e9c; }
@media print {
  @page { size: A4 landscape; margin: 8mm; }
  body { margin: 0; font-size: 10px; }
  nav.contents { display: none; }
  h2 { break-after: avoid; margin-top: 1.2em; }
  h3 { break-after: avoid; }
  .scroll { overflow: visible; }
  table { width: 100%; font-size: 7px; margin: 4px 0 8px; }
  th, td { padding: 1px 2px; overflow-wrap: anywhere; }
  th { overflow-wrap: normal; }
  td.num, ul.summary .links a { white-space: normal; }
  td.nw { white-space: nowrap; }
  tr { break-inside: avoid; }
  a { color: inherit; text-decoration: none; }
  svg.chart { width: 100%; max-width: 100%; break-inside: avoid; }
  ul.summary li { break-inside: avoid; }
}
"""


def _cell(cell: Cell) -> str:
    if isinstance(cell, Link):
        return f'<a href="#{escape(cell.anchor)}">{escape(cell.text)}</a>'
    if isinstance(cell, Hash):
        return f'<span class="hash" title="{escape(cell.full)}">{escape(cell.short)}</span>'
    return escape(cell)


SHORT = 12  # a cell this short, without a space, is never broken across lines in print


def _td_class(numeric: bool, cell: Cell) -> str:
    shown = cell.short if isinstance(cell, Hash) else str(cell)
    short = len(shown) <= SHORT and " " not in shown
    classes = [c for c, on in (("num", numeric), ("nw", short)) if on]
    return f' class="{" ".join(classes)}"' if classes else ""


def _table(t: Table, css: str = "", row_classes: list[str] | None = None) -> str:
    if not t.rows:
        return '<p class="muted">none</p>'
    classes = row_classes or t.classes
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    body = []
    for n, row in enumerate(t.rows):
        attrs = ""
        if t.ids:
            attrs += f' id="{escape(t.ids[n])}"'
        if classes and classes[n]:
            attrs += f' class="{escape(classes[n])}"'
        cells = "".join(f"<td{_td_class(i in t.numeric, c)}>{_cell(c)}</td>" for i, c in enumerate(row))
        body.append(f"<tr{attrs}>{cells}</tr>")
    cls_attr = f' class="{css}"' if css else ""
    return (f'<div class="scroll"><table{cls_attr}><thead><tr>{head}</tr></thead><tbody>\n'
            + "\n".join(body) + "\n</tbody></table></div>")


CONTENTS = (("summary", "Summary"), ("timeline", "Timeline"), ("nav", "NAV"), ("chain-audit", "Chain audit"),
            ("reconciliation", "Reconciliation"), ("movements", "Movements"), ("trades", "Trades"),
            ("repairs", "Repairs"), ("checks", "Checks"), ("expectations", "Expectations"),
            ("violations", "Violations"), ("files", "Files"))


def _summary(report: Report) -> str:
    items = []
    for item in report.summary:
        cls = "problem" if item.problem else "warning" if item.count else "ok"
        count = "none" if item.count == 0 else str(item.count)
        links = " ".join(f'<a href="#{escape(anchor)}">{escape(text)}</a>' for text, anchor in item.links)
        detail = f' <span class="muted">({escape(item.detail)})</span>' if item.detail else ""
        items.append(f'<li class="{cls}" data-key="{escape(item.key)}"><span class="count">{escape(count)}</span> '
                     f"{escape(item.label)}{detail}"
                     + (f'<div class="links">{links}</div>' if links else "") + "</li>")
    return '<ul class="summary">' + "".join(items) + "</ul>"


def _audit(report: Report, audit: ChainAudit) -> list[str]:
    parts = [
        '<p class="lead">These books are rebuilt from the chain alone: the logs of the vault and of every token '
        f"over blocks {audit.first_block}-{audit.last_block} (deposits, redemptions, swaps, transfers, mints and "
        "burns), and balances read before and after every rebase and interest accrual, which move balances "
        "without a log. Only then are they compared with the ledger, line by line. A flagged line is explained "
        "when the runner's own accounting check measured exactly that difference.</p>",
        "<h3>Classes</h3>", _table(tables.audit_counts(audit)),
        "<h3>Per asset</h3>", _table(tables.audit_books(report, audit)),
        "<h3>Line by line against the ledger</h3>", _table(tables.audit_rows(report, audit)),
    ]
    if audit.notes:
        parts.append("<h3>What the audit could not square</h3>")
        parts.append("<ul>" + "".join(f"<li>{escape(n)}</li>" for n in audit.notes) + "</ul>")
    if audit.ignored_logs:
        parts.append('<p class="muted">Logs that move no balance, counted and left out: '
                     + escape(", ".join(f"{k} {v}" for k, v in audit.ignored_logs.items())) + ".</p>")
    parts.append("<h3>Every chain line</h3>")
    parts.append(_table(tables.audit_lines(report, audit)))
    return parts


def render_html(report: Report, files: list[str] | None = None) -> str:
    rec = report.reconciliation
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Auditor's report: {escape(report.name)}</title>",
        f"<style>{CSS}</style>",
        "</head>",
        "<body>",
        f"<h1>Auditor's report: {escape(report.name)}</h1>",
    ]
    if report.description:
        parts.append(f'<p class="description">{escape(report.description)}</p>')
    parts.append('<dl class="facts" id="facts">' + "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in tables.facts(report)) + "</dl>")
    parts.append('<nav class="contents">' + "".join(f'<a href="#{a}">{escape(t)}</a>' for a, t in CONTENTS) + "</nav>")

    parts.append('<h2 id="summary">Summary: what needs attention</h2>')
    parts.append(_summary(report))

    if report.source == "run":
        parts.append('<h2 id="timeline">Event timeline</h2>')
        parts.append('<p class="muted">Every timeline event, crash, fault, reorg, retry and invariant violation, '
                     "with the block it happened in; the numbers are the chart's markers.</p>")
        parts.append(_table(tables.timeline(report)))

    parts.append('<h2 id="nav">NAV, cash and positions value over time</h2>')
    parts.append(render_chart(report.chart, report.reserve_asset, report.nav, report.timeline))
    parts.append("<h3>Figures per cycle</h3>")
    parts.append(_table(tables.statistics(report)))

    parts.append('<h2 id="chain-audit">The books from the chain alone</h2>')
    if report.audit is not None:
        parts += _audit(report, report.audit)
    else:
        parts.append(f'<p class="residual-bad">Chain view unavailable: {escape(report.audit_unavailable or "")}.</p>')

    parts.append('<h2 id="reconciliation">Closing reconciliation of the ledger</h2>')
    parts.append("<p>starting capital + deposits &minus; withdrawals + realised PnL + unrealised PnL "
                 "+ rebases + interest + corrections &minus; fees = final NAV</p>")
    recon = tables.reconciliation(report)
    n = len(recon.rows)
    parts.append(_table(recon, "reconciliation", ["" for _ in range(n - 3)] + ["total", "total", "total"]))
    if rec.residual == 0:
        parts.append(f'<p class="residual-ok">Residual: exactly 0 {escape(rec.reserve_asset)}.</p>')
    else:
        parts.append(f'<p class="residual-bad">Residual: {escape(plain(rec.residual))} '
                     f"{escape(rec.reserve_asset)} (not zero; see the terms below).</p>")
    parts.append("<h3>What each line is</h3>")
    parts.append('<ul class="definitions">' + "".join(
        f"<li><strong>{escape(line.label)}</strong>: {escape(line.definition)}</li>" for line in rec.lines)
        + "</ul>")
    parts.append("<h3>Final NAV</h3>")
    parts.append(_table(tables.nav_composition(report)))
    parts.append("<h3>Where a residual would come from</h3>")
    parts.append(_table(tables.residual_terms(report)))
    if rec.notes:
        parts.append("<h3>Notes</h3>")
        parts.append("<ul>" + "".join(f"<li>{escape(x)}</li>" for x in rec.notes) + "</ul>")
    parts.append("<h3>Per position</h3>")
    parts.append(_table(tables.positions(report)))
    parts.append("<h3>Cross-checks of the runner's own figures</h3>")
    parts.append('<p class="muted">Not part of the residual: each compares a figure the runner '
                 "keeps with the same figure recomputed from its records.</p>")
    parts.append(_table(tables.cross_checks(report)))

    parts.append('<h2 id="movements">Deposits, withdrawals, rebases, interest and corrections</h2>')
    parts.append(_table(tables.movements(report)))
    parts.append('<h2 id="trades">Trades</h2>')
    parts.append(_table(tables.trades(report)))
    parts.append('<h2 id="repairs">Repaired trades</h2>')
    parts.append(_table(tables.repairs(report)))
    parts.append('<h2 id="checks">Accounting checks</h2>')
    if not report.checks:
        parts.append('<p class="muted">none</p>')
    else:
        parts.append('<p class="muted">Consecutive checks that were all ok with the same differences are folded '
                     "into one row; every other check has its own table below. checks.csv has every row.</p>")
        parts.append(_table(tables.checks_overview(report)))
        for g in tables.check_groups(report):
            if g.folded:
                continue
            c = g.checks[0]
            parts.append(f'<h3 id="check-{c.check_id}">{escape(tables.check_heading(c))}</h3>')
            parts.append(_table(tables.check_rows(report, c)))
    if report.source == "run":
        parts.append('<h2 id="expectations">Expectations</h2>')
        parts.append(_table(tables.expectations(report)))
        parts.append('<h2 id="violations">Invariant violations</h2>')
        parts.append(_table(tables.violations(report)))
    parts.append('<h2 id="files">Files</h2>')
    parts.append(f"<p><code>ledger.csv</code> holds the {len(report.ledger)} ledger movements "
                 "(balance updates, trade settlements, repairs and corrections), one a row, in time order. "
                 "Every table above is also a CSV file, amounts in their asset's decimals:</p>")
    parts.append("<ul>" + "".join(f"<li><code>{escape(f)}</code></li>" for f in files or []) + "</ul>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
