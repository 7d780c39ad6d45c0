"""`harness report` and `harness run --report` from the command line: the chain view with
and without a node, and the PDF."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from harness.anvil_node import AnvilNode
from harness.chains import GENESIS
from harness.cli import main
from harness.report.pdf import CHROMIUM_CANDIDATES

DRAIN = "scenarios/external-drain-caught.yaml"
HAVE_CHROMIUM = any(Path(c).exists() for c in CHROMIUM_CANDIDATES)


def test_a_state_file_alone_says_the_chain_view_is_unavailable(tmp_path: Path,
                                                                 capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", DRAIN, "--quiet", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "state.json"), "--out", str(tmp_path / "r")]) == 0
    assert "chain view: unavailable" in capsys.readouterr().out
    doc = json.loads((tmp_path / "r" / "report.json").read_text())
    assert doc["audit"] is None and "no chain to read" in doc["audit_unavailable"]
    html = (tmp_path / "r" / "report.html").read_text()
    assert "Chain view unavailable" in html


def test_rpc_without_a_scenario_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["run", DRAIN, "--quiet", "--out", str(tmp_path)]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "state.json"), "--rpc", "http://127.0.0.1:1", "--out",
                 str(tmp_path / "r")]) == 1
    assert "--rpc needs --scenario FILE" in capsys.readouterr().err


@pytest.mark.anvil
def test_report_rpc_builds_the_chain_view_against_the_node(tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
    """The run's chain, still on the node: the state file's report gets the same chain view
    the run built itself (the drain chain-only, explained by the check that flagged it)."""
    with AnvilNode(genesis_timestamp=GENESIS) as node:
        assert main(["run", DRAIN, "--backend", "anvil", "--rpc", node.url, "--quiet", "--out", str(tmp_path),
                     "--report", str(tmp_path / "run")]) == 0
        capsys.readouterr()
        assert main(["report", str(tmp_path / "state.json"), "--rpc", node.url, "--scenario", DRAIN,
                     "--out", str(tmp_path / "node")]) == 0
        assert "'chain-only': 1" in capsys.readouterr().out
    from_run = json.loads((tmp_path / "run" / "report.json").read_text())["audit"]
    from_node = json.loads((tmp_path / "node" / "report.json").read_text())["audit"]
    assert [r["status"] for r in from_node["rows"] if r["flagged"]] == ["chain-only"]
    # The node's books start at block 1, the run's at its first block: the same rows either way.
    keep = ("asset", "block", "chain_amount", "ledger_amount", "status", "ledger_ref")
    assert [{k: r[k] for k in keep} for r in from_node["rows"]] == [{k: r[k] for k in keep} for r in from_run["rows"]]


@pytest.mark.skipif(not HAVE_CHROMIUM, reason="needs Debian's chromium (make chromium)")
def test_pdf_is_printed_and_byte_stable(tmp_path: Path) -> None:
    """`--pdf` prints report.pdf; the same state gives the same bytes (Chromium's clock stamps replaced)."""
    assert main(["run", DRAIN, "--quiet", "--out", str(tmp_path)]) == 0
    for name in ("a", "b"):
        assert main(["report", str(tmp_path / "state.json"), "--out", str(tmp_path / name), "--pdf"]) == 0
    pdf = (tmp_path / "a" / "report.pdf").read_bytes()
    assert pdf.startswith(b"%PDF-") and len(pdf) > 20_000
    assert b"/CreationDate (D:20240105000000" in pdf  # the state's last update, not today
    assert pdf == (tmp_path / "b" / "report.pdf").read_bytes()
