"""User text in a report (scenario name, description, asset symbols, failure reasons,
notes) lands as text, never as Markdown or HTML markup."""

from __future__ import annotations

import re
from datetime import datetime
from html.parser import HTMLParser
from pathlib import Path

from harness.report import build_report_from_state, write_report
from harness.report.render_md import md_block, md_text
from tests.statefiles import rich_states

HOSTILE = '<script>alert("x")</script> **bold** _em_ [link](javascript:alert(1)) `code` | cell ~~gone~~ &amp; ![i](x)'


class _Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.hrefs: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.hrefs += [v or "" for k, v in attrs if k == "href"]


def test_markdown_escapes_every_construct() -> None:
    text = md_text(HOSTILE)
    assert re.findall(r"(?<!\\)[<>*\[\]`|~&!_]", text) == []  # every one escaped
    assert text.replace("\\", "") == HOSTILE  # and nothing else changed
    assert md_text("stop_loss and post_execution") == "stop_loss and post_execution"  # intraword: as is
    assert md_block("# not a heading") == "\\# not a heading"
    assert md_block("1. not a list") == "1\\. not a list"
    assert md_block("- not an item") == "\\- not an item"
    assert md_text("two\nlines") == "two lines"


def test_a_hostile_scenario_name_and_reason_stay_text(tmp_path: Path, t0: datetime) -> None:
    state = rich_states(t0)[-1]
    for pos in state.portfolio.all_positions():
        for trade in pos.trades.values():
            if trade.failure_reason:
                trade.failure_reason = HOSTILE
    report = build_report_from_state(state, HOSTILE)
    report.description = "# heading? " + HOSTILE
    md, html = (p.read_text() for p in write_report(report, tmp_path)[:2])
    assert "<script>" not in md and "<script>" not in html
    assert md.startswith("# Auditor's report: \\<script\\>alert(\"x\")\\</script\\> \\*\\*bold\\*\\*")
    assert "\n\\# heading? " in md
    tables: list[list[str]] = [[]]
    for line in md.splitlines():
        if line.startswith("|"):
            tables[-1].append(line)
        elif tables[-1]:
            tables.append([])
    for table in (t for t in tables if t):
        widths = {len(re.split(r"(?<!\\)\|", row)) for row in table}
        assert len(widths) == 1, table[0]  # a `|` in a reason does not add a column
    scan = _Tags()
    scan.feed(html)
    assert "script" not in scan.tags
    assert all(h.startswith("#") for h in scan.hrefs), scan.hrefs  # only the report's own anchors: no user link
    assert "&lt;script&gt;" in html
