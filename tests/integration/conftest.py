"""Fixtures of the protocol tests: this worker's chains for protocol worlds."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from harness.protocols.chains import ProtocolChains


@pytest.fixture(scope="session")
def protocol_chains() -> Iterator[ProtocolChains]:
    """One embedded chain and (on first use) one anvil node for protocol worlds."""
    chains = ProtocolChains()
    try:
        yield chains
    finally:
        chains.close()


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> object:
    """A failing protocol test that used anvil shows the node's log tail."""
    report = yield
    if report.failed and call.when == "call":
        chains = getattr(item, "funcargs", {}).get("protocol_chains")
        node = getattr(chains, "_anvil_node", None)
        if node is not None:
            report.sections.append(("protocol anvil log (tail)", node.log_tail(4000)))
    return report
