"""What `harness report` and `harness run --report` do beyond writing the files: the chain
view of a state file built against a node (`--rpc`), and the PDF (`--pdf`)."""

from __future__ import annotations

from pathlib import Path

from harness.audit import build_audit
from harness.audit.model import ChainAudit
from harness.errors import HarnessError
from harness.report.model import Report
from runner.state import State


class ChainViewError(HarnessError):
    """The node cannot give the chain view: no scenario, no vault there, or a failed read."""


def audit_from_node(state: State, scenario_file: str | None, rpc_url: str, first_block: int = 1) -> ChainAudit:
    """Books from the node's chain (the scenario says where the vault and tokens are: the
    deployment is deterministic), compared with `state`."""
    from harness.repair_cli import universe_on
    from harness.scenario import load_scenario
    from runner.chain.errors import ChainError
    from runner.chain.node import RpcBackend

    if scenario_file is None:
        raise ChainViewError("--rpc needs --scenario FILE: the scenario says where the vault and its tokens are")
    universe = universe_on(load_scenario(scenario_file), rpc_url)
    backend = RpcBackend(rpc_url)
    try:
        if not backend.get_code(universe.vault):
            raise ChainViewError(f"no vault at 0x{universe.vault.hex()} on {rpc_url}: is this the scenario's chain?")
        return build_audit(backend, universe, state, max(1, first_block), backend.block_number())  # type: ignore[arg-type]
    except ChainError as exc:
        raise ChainViewError(f"{rpc_url}: {exc}") from None
    finally:
        backend.close()


def write_pdf(report: Report, html_path: Path) -> Path:
    """report.pdf beside report.html, dated with the report's own time (never the clock)."""
    from harness.report.pdf import print_pdf

    return print_pdf(Path(html_path), when=report.last_updated_at or report.created_at)


__all__ = ["ChainViewError", "audit_from_node", "write_pdf"]
