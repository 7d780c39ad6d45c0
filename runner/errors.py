"""Errors the runner raises. Each carries the cycle, the step and, where one is
involved, the trade id, so a failure in a long run says where it happened.

    RunnerError(Exception)
     +-- PreflightCheckFailed                 universe data not sane: no trades this cycle
     +-- UnexpectedAccountingCorrectionIssue  on-chain balances differ from the ledger (abort policy)
     +-- BalanceCheckFailed                   post-execution balances differ from what trades say
     +-- TradeExecutionError                  a trade could not be built or sent
     +-- StrategyError                        the strategy's decide_trades raised
     +-- CannotImpersonate                    the runner's account has no key here and the node cannot impersonate it

    SimulatedCrash(BaseException)            the harness killing the process at a named step;
                                             a BaseException so no `except Exception` swallows it
"""

from __future__ import annotations


class RunnerError(Exception):
    def __init__(self, message: str, *, cycle: int | None = None, step: str | None = None,
                 trade_id: int | None = None) -> None:
        self.message = message
        self.cycle = cycle
        self.step = step
        self.trade_id = trade_id
        where = ", ".join(
            f"{k} {v}" for k, v in (("cycle", cycle), ("step", step), ("trade", trade_id)) if v is not None
        )
        super().__init__(f"{message} [{where}]" if where else message)


class PreflightCheckFailed(RunnerError):
    pass


class UnexpectedAccountingCorrectionIssue(RunnerError):
    def __init__(self, message: str, table: str, **kw: object) -> None:
        self.table = table
        super().__init__(f"{message}\n{table}", **kw)  # type: ignore[arg-type]


class BalanceCheckFailed(RunnerError):
    def __init__(self, message: str, assets: list[str], table: str, **kw: object) -> None:
        self.assets = assets
        self.table = table
        super().__init__(f"{message}: {', '.join(assets)}\n{table}", **kw)  # type: ignore[arg-type]


class TradeExecutionError(RunnerError):
    pass


class NegativeNav(RunnerError):
    """The books say the vault is worth less than nothing: no chain state can give that
    (holdings are never negative), so the books are broken. The runner stops rather than
    posting it (the vault's NAV is unsigned: the encoder would fail with a bare error)."""


class StrategyError(RunnerError):
    pass


class SimulatedCrash(BaseException):
    """The process died at `step` (injected by the harness)."""

    def __init__(self, step: str, cycle: int | None = None) -> None:
        self.step = step
        self.cycle = cycle
        super().__init__(f"simulated crash at step {step!r} of cycle {cycle}")


class CannotImpersonate(RunnerError):
    """The runner sends as an account whose key it does not hold (a real vault's asset
    manager on a fork) on a backend without the impersonation ability (a production
    node): nothing can be sent, so the runner stops before signing anything."""

