"""The HTML report in a real browser: headless Chromium renders it, and each part is checked
in the DOM it built (summary, timeline, chart markers, chain-truth NAV, chain audit, folded
checks, plain words), in its print layout (no table wider than the page) and as a PDF."""

from __future__ import annotations

import json
import re
import struct
import subprocess
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.engine import ScenarioRun
from harness.report import build_report, write_report
from harness.report.chart import CHAIN_SERIES, SERIES
from harness.report.commands import write_pdf
from harness.report.model import Report
from harness.report.tables import check_groups
from harness.scenario import load_scenario

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]
PRINT_WIDTH = 1062  # px: A4 landscape (297 mm) less the print stylesheet's 8 mm margins, at 96 dpi
CODE_NAMES = ("post_execution", "stop_loss", "take_profit", "trailing_stop", "failed_open", "broadcasted",
              "realised_pnl", "lp_fees_paid", "Portfolio.", "TradingPosition.", "State.new")

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs /usr/bin/chromium from Debian's 'chromium' package (apt-get install -y chromium)",
)


def _chromium(tmp: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp / 'profile'}", *args],
        capture_output=True, text=True, timeout=90, check=False,
    )


@dataclass
class Dom(HTMLParser):
    """What the checks need of the DOM Chromium built: ids, in-page links, classes, the chart."""

    ids: set[str] = field(default_factory=set)
    links: list[str] = field(default_factory=list)
    classes: dict[str, list[str]] = field(default_factory=dict)  # id -> its classes
    summary: dict[str, str] = field(default_factory=dict)  # data-key -> class
    series: list[str] = field(default_factory=list)
    markers: list[str] = field(default_factory=list)  # their hrefs
    text: list[str] = field(default_factory=list)
    _svg: int = 0
    _skip: int = 0

    def __post_init__(self) -> None:
        super().__init__()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if "id" in a:
            self.ids.add(a["id"])
            self.classes[a["id"]] = a.get("class", "").split()
        if tag == "a" and a.get("href", "").startswith("#"):
            self.links.append(a["href"][1:])
            if "marker" in a.get("class", ""):
                self.markers.append(a["href"][1:])
        if tag == "li" and "data-key" in a:
            self.summary[a["data-key"]] = a.get("class", "")
        if tag == "svg" and a.get("id") == "nav-chart":
            self._svg += 1
        if self._svg and tag == "polyline":
            self.series.append(a.get("data-series", ""))
        if tag in ("style", "script", "title"):
            self._skip += 1

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self._svg:
            self._svg -= 1
        if tag in ("style", "script", "title") and self._skip:
            self._skip -= 1

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.text.append(data)


@dataclass
class Rendered:
    report: Report
    html: Path
    dom: Dom


def _render(name: str, pool: object, tmp: Path) -> Rendered:
    scenario = load_scenario(Path("scenarios") / name)
    report = build_report(ScenarioRun(scenario, backend="eth-tester", pool=pool).run())  # type: ignore[arg-type]
    html = write_report(report, tmp / "report")[1]
    proc = _chromium(tmp, "--dump-dom", html.resolve().as_uri())
    assert proc.returncode == 0 and "</html>" in proc.stdout, proc.stderr[-2000:]
    dom = Dom()
    dom.feed(proc.stdout)
    return Rendered(report, html, dom)


@pytest.fixture(scope="module")
def rebase(chain_pool: object, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """Deposit, rebase, price shock, a failed trade, a withdrawal and a drain the check flags."""
    return _render("rebase-while-holding.yaml", chain_pool, tmp_path_factory.mktemp("rebase"))


@pytest.fixture(scope="module")
def crash(chain_pool: object, tmp_path_factory: pytest.TempPathFactory) -> Rendered:
    """A crash, a restart and the repaired trades it resolved."""
    return _render("crash/crash-at-broadcast.yaml", chain_pool, tmp_path_factory.mktemp("crash"))


def test_headless_chromium_renders_a_full_page(rebase: Rendered, tmp_path: Path) -> None:
    """A non-trivial 1280x2000 screenshot (not a blank page)."""
    shot = tmp_path / "report.png"
    proc = _chromium(tmp_path, f"--screenshot={shot}", "--window-size=1280,2000", rebase.html.resolve().as_uri())
    assert shot.exists(), f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", data[16:24]) == (1280, 2000)
    assert len(data) > 50_000, f"screenshot is only {len(data)} bytes: a blank page?"


def test_every_link_of_the_page_lands_on_a_row(rebase: Rendered) -> None:
    dom = rebase.dom
    assert dom.links and sorted(set(dom.links) - dom.ids) == []


def test_the_summary_counts_each_kind_of_problem_and_links_its_rows(rebase: Rendered) -> None:
    dom, report = rebase.dom, rebase.report
    assert list(dom.summary) == [item.key for item in report.summary]
    assert {"violations", "chain-audit", "mismatches", "corrections", "repaired", "failed", "restarts",
            "residual"} <= set(dom.summary)
    failed = [t.trade_id for t in report.trades if t.status == "failed"]
    item = next(i for i in report.summary if i.key == "failed")
    assert failed and [a for _, a in item.links] == [f"trade-{n}" for n in failed]
    assert all("problem" in dom.classes[f"trade-{n}"] for n in failed)
    mismatch = next(i for i in report.summary if i.key == "mismatches")
    assert mismatch.count == sum(1 for c in report.checks if c.outcome == "mismatch") > 0
    assert "problem" in dom.summary["mismatches"] and dom.summary["residual"] == "ok"


def test_the_timeline_places_each_event_at_its_block(rebase: Rendered) -> None:
    report, dom = rebase.report, rebase.dom
    assert report.timeline and all(f"timeline-{r.row_id}" in dom.ids for r in report.timeline)
    kinds = [r.kind for r in report.timeline]
    for kind in ("deposit", "rebase", "price shock", "trade failure armed", "withdrawal",
                 "transfer behind the runner's back"):
        assert kind in kinds
    assert all(r.blocks for r in report.timeline)
    audit = report.audit
    assert audit is not None
    deposit = next(r for r in report.timeline if r.kind == "deposit")
    assert deposit.blocks == f"block {next(e.block for e in audit.events if e.kind == 'deposit')}"
    drain = next(r for r in report.timeline if r.kind == "transfer behind the runner's back")
    assert drain.blocks == f"block {next(e.block for e in audit.events if e.kind == 'external')}"


def test_the_chart_draws_chain_truth_nav_and_marks_every_instant(rebase: Rendered) -> None:
    dom, report = rebase.dom, rebase.report
    assert dom.series == [attr for attr, _, _ in SERIES] + [CHAIN_SERIES[0]]
    instants = sorted({r.time for r in report.timeline if r.time is not None})
    assert len(dom.markers) == len(instants) > 3
    assert all(m.startswith("timeline-") and m in dom.ids for m in dom.markers)
    text = " ".join(dom.text)
    assert "NAV (chain truth)" in text


def test_the_chain_audit_is_there_row_by_row_before_the_ledger(rebase: Rendered) -> None:
    dom, report = rebase.dom, rebase.report
    audit = report.audit
    assert audit is not None
    assert all(f"audit-{r.row_id}" in dom.ids for r in audit.rows)
    for r in audit.rows:
        want = "" if not r.flagged else "warning" if r.explained_by else "problem"
        assert dom.classes[f"audit-{r.row_id}"] == ([want] if want else []), r
    text = "".join(dom.text)
    assert text.index("The books from the chain alone") < text.index("Closing reconciliation of the ledger")
    assert "Residual: exactly 0" in text


def test_identical_all_ok_checks_are_folded_into_one_row(rebase: Rendered) -> None:
    dom, report = rebase.dom, rebase.report
    groups = check_groups(report)
    folded = [g for g in groups if g.folded]
    assert folded, "this scenario has runs of identical all-ok checks"
    for g in groups:
        first = g.checks[0].check_id
        assert (f"check-{first}" in dom.ids) == (not g.folded)
        assert f"checks-{first}" in dom.ids
    text = " ".join(dom.text)
    assert all(f"#{g.checks[0].check_id} to #{g.checks[-1].check_id}" in text for g in folded)


def test_no_code_name_is_shown(rebase: Rendered) -> None:
    text = " ".join(rebase.dom.text)
    assert [name for name in CODE_NAMES if name in text] == []


def test_a_crash_its_restart_and_its_repairs_are_on_the_timeline(crash: Rendered) -> None:
    report, dom = crash.report, crash.dom
    kinds = [r.kind for r in report.timeline]
    assert "crash armed" in kinds and "crash" in kinds and "restart" in kinds
    item = next(i for i in report.summary if i.key == "restarts")
    assert item.count == 1 and item.links[0][1] in dom.ids
    repaired = next(i for i in report.summary if i.key == "repaired")
    assert repaired.count == len(report.repairs) > 0 and all(a in dom.ids for _, a in repaired.links)


def _fits(tmp: Path, html: Path, print_rules: bool) -> dict[str, object]:
    """Lay the page out at the printed width (optionally with the print rules applied on
    screen) and measure every table against the page width, in the browser."""
    page = html.read_text()
    if print_rules:
        page = page.replace("@media print {", "@media all {")
    probe = ("<script>const w = document.documentElement.clientWidth; const bad = [];"
             "document.querySelectorAll('table').forEach((t, i) => { const r = t.getBoundingClientRect();"
             " if (r.right > w + 1) bad.push([i, Math.round(r.right)]); });"
             "const out = document.createElement('pre'); out.id = 'fit';"
             "out.textContent = JSON.stringify({width: w, tables: document.querySelectorAll('table').length, bad});"
             "document.body.appendChild(out);</script></body>")
    probe_path = html.with_name(f"fit-{print_rules}.html")
    probe_path.write_text(page.replace("</body>", probe))
    proc = _chromium(tmp, f"--window-size={PRINT_WIDTH},1000", "--dump-dom", probe_path.resolve().as_uri())
    found = re.search(r'<pre id="fit">([^<]*)</pre>', proc.stdout)
    assert found, proc.stderr[-2000:]
    result: dict[str, object] = json.loads(found.group(1))
    return result


def test_the_print_layout_cuts_no_column(rebase: Rendered, tmp_path: Path) -> None:
    """With the print rules, every table fits the landscape page; without them the widest do not
    (so the measurement can fail)."""
    printed = _fits(tmp_path, rebase.html, print_rules=True)
    assert printed["bad"] == [] and int(str(printed["tables"])) > 10
    screen = _fits(tmp_path, rebase.html, print_rules=False)
    assert screen["bad"] != []


def test_the_pdf_is_landscape_and_paged(rebase: Rendered) -> None:
    pdf = write_pdf(rebase.report, rebase.html).read_bytes()
    assert pdf.startswith(b"%PDF-")
    boxes = {tuple(float(x) for x in m.split()) for m in re.findall(rb"/MediaBox \[([\d. ]+)\]", pdf)}  # float-ok
    assert boxes and all(w > h for _, _, w, h in boxes), boxes
    assert len(re.findall(rb"/Type /Page\b", pdf)) >= 3
