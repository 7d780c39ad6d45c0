"""The HTML report in a real browser: headless Chromium renders it to a screenshot."""

from __future__ import annotations

import struct
import subprocess
from html.parser import HTMLParser
from pathlib import Path

import pytest

from harness.engine import ScenarioRun
from harness.report import build_report, write_report
from harness.report.chart import SERIES
from harness.scenario import load_scenario

CHROMIUM = Path("/usr/bin/chromium")
ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(),
    reason="needs /usr/bin/chromium from Debian's 'chromium' package (apt-get install -y chromium)",
)


class _Chart(HTMLParser):
    """Collects the chart SVG's polylines and paths, by their data-series attribute."""

    def __init__(self) -> None:
        super().__init__()
        self.depth = 0
        self.found = False
        self.lines: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "svg" and a.get("id") == "nav-chart":
            self.found = True
            self.depth += 1
        elif self.depth and tag in ("polyline", "path"):
            self.lines.append(a.get("data-series") or "")
            assert a.get("points") or a.get("d"), f"{tag} without coordinates"

    def handle_endtag(self, tag: str) -> None:
        if tag == "svg" and self.depth:
            self.depth -= 1


def test_headless_chromium_renders_the_report(chain_pool: object, tmp_path: Path) -> None:
    """The report renders to a non-trivial 1280x2000 screenshot; its chart has one line per series."""
    scenario = load_scenario((ROOT / "scenarios" / "rebase-while-holding.yaml").relative_to(ROOT))
    result = ScenarioRun(scenario, backend="eth-tester", pool=chain_pool).run()  # type: ignore[arg-type]
    html_path = write_report(build_report(result), tmp_path / "report")[1]

    chart = _Chart()
    chart.feed(html_path.read_text())
    assert chart.found, "no <svg id=nav-chart> in report.html"
    assert chart.lines == [attr for attr, _, _ in SERIES]

    shot = tmp_path / "report.png"
    proc = subprocess.run(
        [str(CHROMIUM), "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", f"--screenshot={shot}", "--window-size=1280,2000",
         html_path.resolve().as_uri()],
        capture_output=True, text=True, timeout=60, check=False,
    )
    assert shot.exists(), f"chromium wrote no screenshot (exit {proc.returncode}): {proc.stderr[-2000:]}"
    data = shot.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (1280, 2000)
    assert len(data) > 50_000, f"screenshot is only {len(data)} bytes: a blank page?"
