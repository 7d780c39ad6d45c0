"""The report as one self-contained HTML page: inline CSS, inline SVG, no external URL."""

from __future__ import annotations

from html import escape

from harness.report import tables
from harness.report.chart import render_chart
from harness.report.model import Report, plain
from harness.report.tables import Table

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px; color: #1b1f24; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { border-bottom: 1px solid #ccd; padding-bottom: 4px; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.4em; }
p.description { max-width: 70em; color: #333; }
dl.facts { display: grid; grid-template-columns: max-content auto; gap: 2px 16px; }
dl.facts dt { font-weight: 600; }
dl.facts dd { margin: 0; }
.scroll { overflow-x: auto; }
table { border-collapse: collapse; margin: 8px 0 16px; font-size: 13px; }
th, td { border: 1px solid #d0d4dc; padding: 3px 6px; text-align: left; vertical-align: top; }
th { background: #eef1f6; }
td.num { text-align: right; font-family: ui-monospace, "DejaVu Sans Mono", monospace; white-space: nowrap; }
table.reconciliation td { font-size: 14px; }
table.reconciliation tr.total td { font-weight: 700; border-top: 2px solid #555; }
.residual-ok { color: #1d6b2f; font-weight: 700; }
.residual-bad { color: #b00020; font-weight: 700; }
tr.fail td, tr.mismatch td { background: #fde8e8; }
tr.dust td { background: #fff6da; }
svg.chart { max-width: 100%; height: auto; background: #fff; }
svg.chart .grid line { stroke: #e1e4ea; stroke-width: 1; }
svg.chart .grid text, svg.chart text { font-size: 12px; fill: #333; font-family: sans-serif; }
svg.chart rect.frame { fill: none; stroke: #9aa1ad; }
svg.chart .axis-title { font-weight: 600; }
.muted { color: #667; }
ul.definitions li { margin-bottom: 4px; max-width: 70em; }
"""


def _table(t: Table, css: str = "", row_classes: list[str] | None = None) -> str:
    if not t.rows:
        return '<p class="muted">none</p>'
    head = "".join(f"<th>{escape(h)}</th>" for h in t.headers)
    body = []
    for n, row in enumerate(t.rows):
        cls = f' class="{escape(row_classes[n])}"' if row_classes and row_classes[n] else ""
        cells = "".join(
            f'<td class="num">{escape(c)}</td>' if i in t.numeric else f"<td>{escape(c)}</td>"
            for i, c in enumerate(row)
        )
        body.append(f"<tr{cls}>{cells}</tr>")
    cls_attr = f' class="{css}"' if css else ""
    return (f'<div class="scroll"><table{cls_attr}><thead><tr>{head}</tr></thead><tbody>\n'
            + "\n".join(body) + "\n</tbody></table></div>")


def render_html(report: Report) -> str:
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
    parts.append('<dl class="facts">' + "".join(
        f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in tables.facts(report)) + "</dl>")

    parts.append("<h2>NAV, cash and positions value over time</h2>")
    parts.append(render_chart(report.chart, report.reserve_asset))
    parts.append("<details><summary>Figures per cycle</summary>")
    parts.append(_table(tables.statistics(report)))
    parts.append("</details>")

    parts.append("<h2>Closing reconciliation</h2>")
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
                 "maintains with the same figure recomputed from its records.</p>")
    parts.append(_table(tables.cross_checks(report)))

    parts.append("<h2>Deposits, withdrawals, rebases, interest and corrections</h2>")
    parts.append(_table(tables.movements(report)))
    parts.append("<h2>Trades</h2>")
    parts.append(_table(tables.trades(report), row_classes=[
        "fail" if t.status == "failed" else "" for t in report.trades]))
    parts.append("<h2>Repaired trades</h2>")
    parts.append(_table(tables.repairs(report)))
    parts.append("<h2>Accounting checks</h2>")
    if not report.checks:
        parts.append('<p class="muted">none</p>')
    for c in report.checks:
        parts.append(f"<h3>{escape(tables.check_heading(c))}</h3>")
        parts.append(_table(tables.check_rows(c), row_classes=[r.verdict for r in c.rows]))
    if report.source == "run":
        parts.append("<h2>Expectations</h2>")
        parts.append(_table(tables.expectations(report), row_classes=[
            "" if e.passed else "fail" for e in report.expectations]))
    parts.append("<h2>Ledger</h2>")
    parts.append(f"<p><code>ledger.csv</code> holds the {len(report.ledger)} ledger movements "
                 "(balance updates, trade settlements, repairs and corrections), one a row, in time order.</p>")
    parts += ["</body>", "</html>"]
    return "\n".join(parts) + "\n"
