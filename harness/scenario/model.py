"""The scenario model: frozen dataclasses that are the single source of truth.

The decoder (decode.py) and the JSON Schema (schema.py) are both driven by these classes:
their type hints say what shape a value has, ``field(metadata=...)`` says how it is
written and what it must satisfy. Adding a field here is therefore all it takes to accept
it in YAML, validate it and document it in ``harness schema``.

Metadata keys (all optional; see ``spec``):

* ``help`` -- one sentence for people; the schema's property description.
* ``kind`` -- how a scalar is written: ``amount``, ``percent``, ``percent_sign`` (a ``%``
  string only), ``duration``, ``datetime``, ``time_offset`` (a duration after clock.start
  or an absolute datetime; with ``allow_end`` also ``end``). Default: from the type.
* ``min`` / ``exclusive_min`` / ``max`` / ``exclusive_max`` / ``nonzero`` -- bounds.
* ``pattern`` + ``pattern_help``, ``min_length`` -- for strings.
* ``min_items``, ``unique``, ``unique_by``, ``key_pattern`` + ``key_help`` -- containers.
* ``checks`` -- functions ``(value, facts) -> Mismatch | None`` run
  after the whole file is decoded, for cross references such as "a pool of the universe".
* ``publish`` -- store the decoded value under this fact name for ``checks`` and
  ``default_from`` (fields are decoded in declaration order; checks run last).
* ``default_from`` -- ``facts -> value | None`` used when the key is absent.
* ``yaml_key`` -- the YAML key (several fields may share one: the first whose parser
  accepts the value gets it, the others stay None).
* ``shorthand`` -- in an event/expect entry, a non-mapping value is this field's value.
* ``yaml=False`` + ``inject`` (``line`` / ``source``) -- filled by the loader, not the file.

Classes may declare ``exactly_one`` / ``at_least_one`` field groups and a ``problems()``
method yielding ``(field, expected)`` for rules that span fields.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import MISSING, dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar, Literal, NamedTuple, get_args

from harness.scenario.quantities import format_datetime, format_duration

__all__ = [
    "AccountingExpectation",
    "AccountingSpec",
    "BalanceUpdateExpectation",
    "CRASH_STEPS",
    "ChainSpec",
    "ClockSpec",
    "CrashEvent",
    "CrashStep",
    "DepositEvent",
    "EVENT_TYPES",
    "EXPECTATION_TYPES",
    "ErrorExpectation",
    "Event",
    "Expectation",
    "ExternalTransferEvent",
    "FailNextTradeEvent",
    "InterestEvent",
    "MempoolEvent",
    "Mismatch",
    "NavExpectation",
    "NodeFaultEvent",
    "NodeRestartEvent",
    "NoteEvent",
    "PoolSpec",
    "PositionExpectation",
    "PriceShockEvent",
    "RebaseEvent",
    "ReorgEvent",
    "Scenario",
    "SetParameterEvent",
    "SourceInfo",
    "StrategySpec",
    "TokenSpec",
    "TradeExpectation",
    "UniverseSpec",
    "ViolationExpectation",
    "WithdrawEvent",
]

Facts = Mapping[str, Any]


class Mismatch(NamedTuple):
    """A failed cross-reference check: what was expected, and spellings worth suggesting."""

    expected: str
    choices: tuple[str, ...] = ()
    suggestion: str | None = None


CheckResult = Mismatch | None

CrashStep = Literal[
    "check_accounts",
    "sync_portfolio",
    "setup_routing",
    "revalue_state",
    "pretick_check",
    "on_clock",
    "approve",
    "broadcast",
    "confirm",
    "save_state",
    "check_balances",
    "statistics",
]
CRASH_STEPS: tuple[str, ...] = get_args(CrashStep)
"""Runner steps in execution order; a crash at S means the process dies just before S completes."""

_SYMBOL = r"^[A-Za-z0-9][A-Za-z0-9._-]*$"
_NAME = r"^[A-Za-z_][A-Za-z0-9_-]*$"
_MODULE = r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)*$"
_PAIR = r"^[^/\s]+/[^/\s]+$"
_ADDRESS = r"^0x[0-9a-fA-F]{40}$"


def spec(
    help: str,
    *,
    default: Any = MISSING,
    default_factory: Callable[[], Any] | Any = MISSING,
    **metadata: Any,
) -> Any:
    """``dataclasses.field`` with the metadata vocabulary described in the module docstring."""
    return field(
        default=default, default_factory=default_factory, metadata={"help": help, **metadata}
    )


# -- cross-reference checks (run after the whole file is decoded) --------------------------


def _listing(names: list[str]) -> str:
    return ", ".join(names) if names else "none is declared"


def token_of_universe(value: str, facts: Facts) -> CheckResult:
    """The symbol must be a key of ``universe.tokens``."""
    tokens: dict[str, TokenSpec] | None = facts.get("tokens")
    if tokens is None or value in tokens:
        return None
    return Mismatch(f"a token of the universe ({_listing(list(tokens))})", tuple(tokens))


def rebasing_token(value: str, facts: Facts) -> CheckResult:
    """Rebase and interest events only make sense on a token declared ``rebasing: true``."""
    tokens: dict[str, TokenSpec] | None = facts.get("tokens")
    if tokens is None:
        return None
    rebasing = [symbol for symbol, token in tokens.items() if token.rebasing]
    if value in rebasing:
        return None
    if value in tokens:
        return Mismatch(f"a rebasing token ({_listing(rebasing)}; set rebasing: true on {value})")
    return Mismatch(f"a rebasing token of the universe ({_listing(rebasing)})", tuple(rebasing))


def pool_of_universe(value: str, facts: Facts) -> CheckResult:
    """Pairs are matched exactly as declared: ``USDC/WETH`` is not the pool ``WETH/USDC``."""
    pools: tuple[PoolSpec, ...] | None = facts.get("pools")
    if pools is None:
        return None
    pairs = [pool.pair for pool in pools]
    if value in pairs:
        return None
    base, _, quote = value.partition("/")
    flipped = f"{quote}/{base}" if f"{quote}/{base}" in pairs else None
    return Mismatch(f"a pool of the universe ({_listing(pairs)})", tuple(pairs), flipped)


def pair_of_tokens(value: str, facts: Facts) -> CheckResult:
    """Both sides of a pool must be declared tokens."""
    tokens: dict[str, TokenSpec] | None = facts.get("tokens")
    if tokens is None:
        return None
    if all(symbol in tokens for symbol in value.split("/")):
        return None
    return Mismatch(f"a pair of tokens of the universe ({_listing(list(tokens))})")


def distinct_sides(value: str, facts: Facts) -> CheckResult:
    """A pool of a token against itself has no price."""
    base, _, quote = value.partition("/")
    return Mismatch("a pair of two different tokens") if base == quote else None


def investor_name(value: str, facts: Facts) -> CheckResult:
    """``by`` must name one of ``investors``."""
    investors: tuple[str, ...] | None = facts.get("investors")
    if investors is None or value in investors:
        return None
    return Mismatch(f"an investor ({_listing(list(investors))})", investors)


def first_investor(facts: Facts) -> str | None:
    """Default for ``by``: the first investor, so one-investor scenarios never repeat it."""
    investors: tuple[str, ...] | None = facts.get("investors")
    return investors[0] if investors else None


def not_before_start(value: timedelta, facts: Facts) -> CheckResult:
    """An absolute time before clock.start would be a negative offset."""
    start: datetime | None = facts.get("clock_start")
    if start is None or value >= timedelta(0):
        return None
    return Mismatch(f"a time not before clock.start ({format_datetime(start)})")


def after_start(value: timedelta, facts: Facts) -> CheckResult:
    """A run must last some time."""
    start: datetime | None = facts.get("clock_start")
    if start is None or value > timedelta(0):
        return None
    return Mismatch(f"a time after clock.start ({format_datetime(start)})")


def not_after_until(value: timedelta, facts: Facts) -> CheckResult:
    """Nothing can happen, or be checked, once the run has stopped."""
    until: timedelta | None = facts.get("clock_until")
    if until is None or value <= until:
        return None
    return Mismatch(f"a time not after clock.until ({format_duration(until)})")


# -- the world -------------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class SourceInfo:
    """Where a scenario came from, so reports and snapshots can name the exact input."""

    path: str
    sha256: str


@dataclass(frozen=True, kw_only=True)
class ClockSpec:
    """Simulated time: when the run starts, how often the strategy cycles, when it stops."""

    start: datetime = spec(
        "Simulated wall-clock start, an ISO-8601 datetime with a timezone.",
        kind="datetime",
        publish="clock_start",
    )
    cycle: timedelta = spec(
        "Interval between strategy cycles (on_clock).", kind="duration", exclusive_min=timedelta(0)
    )
    trigger_checks: timedelta | None = spec(
        "Interval between stop-loss/take-profit trigger checks; shorter than cycle.",
        default=None,
        kind="duration",
        exclusive_min=timedelta(0),
    )
    until: timedelta = spec(
        "When the run stops: a duration after start, or an absolute datetime.",
        kind="time_offset",
        checks=(after_start,),
        publish="clock_until",
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        """Trigger checks between cycles are pointless unless they run more often."""
        if self.trigger_checks is not None and self.trigger_checks >= self.cycle:
            yield "trigger_checks", f"a duration shorter than cycle ({format_duration(self.cycle)})"

    def time_at(self, offset: timedelta) -> datetime:
        """The absolute simulated time of an event or expectation offset."""
        return self.start + offset


@dataclass(frozen=True, kw_only=True)
class ChainSpec:
    """Which chain backend runs the scenario."""

    backend: Literal["eth-tester", "anvil", "anvil-fork"] = spec(
        "Chain backend: in-process eth-tester, a local anvil, or anvil forking a live chain.",
        default="eth-tester",
    )
    fork_url: str | None = spec(
        "RPC URL to fork from; required with (and only with) backend anvil-fork.",
        default=None,
        pattern=r"^\S+$",
        pattern_help="a URL without spaces",
    )
    fork_block: int | None = spec(
        "Block number to fork at, pinned so the run is reproducible; anvil-fork only.",
        default=None,
        min=0,
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        """A fork needs both a URL and a pinned block; the other backends take neither."""
        forking = self.backend == "anvil-fork"
        wanted = {"fork_url": "an RPC URL", "fork_block": "a block number"}
        for name, what in wanted.items():
            given = getattr(self, name) is not None
            if forking and not given:
                yield name, f"{what} (required when backend is anvil-fork)"
            elif given and not forking:
                yield name, f"no {name} unless backend is anvil-fork"


@dataclass(frozen=True, kw_only=True)
class TokenSpec:
    """One ERC-20 token of the simulated universe."""

    decimals: int = spec("Token decimals.", default=18, min=0, max=36)
    rebasing: bool = spec(
        "Whether balances change without transfers (rebase and interest events).", default=False
    )
    transfer_fee: Decimal = spec(
        "Fee taken on every transfer, like 1% (fee-on-transfer tokens).",
        default=Decimal(0),
        kind="percent",
        min=Decimal(0),
        exclusive_max=Decimal(1),
    )
    address: str | None = spec(
        "Address of the real token when forking (0x + 40 hex digits).",
        default=None,
        pattern=_ADDRESS,
        pattern_help="an address like 0x + 40 hex digits",
    )


@dataclass(frozen=True, kw_only=True)
class PoolSpec:
    """A constant-product pool; its price and depth are given in the quote token."""

    pair: str = spec(
        "The pool as BASE/QUOTE, both declared tokens.",
        pattern=_PAIR,
        pattern_help="a pair like WETH/USDC",
        checks=(distinct_sides, pair_of_tokens),
    )
    price: Decimal = spec(
        "Initial price in QUOTE per BASE.", kind="amount", exclusive_min=Decimal(0)
    )
    depth: Decimal = spec(
        "Value of the pool's quote side, in QUOTE units.", kind="amount", exclusive_min=Decimal(0)
    )
    fee: Decimal = spec(
        "Swap fee, like 0.30%.",
        default=Decimal("0.003"),
        kind="percent",
        min=Decimal(0),
        exclusive_max=Decimal("0.1"),
    )

    @property
    def base(self) -> str:
        """The token being priced (left of the slash)."""
        return self.pair.partition("/")[0]

    @property
    def quote(self) -> str:
        """The token prices are expressed in (right of the slash)."""
        return self.pair.partition("/")[2]


@dataclass(frozen=True, kw_only=True)
class UniverseSpec:
    """The tokens and pools that exist when the run starts."""

    reserve: str = spec(
        "Reserve currency of the strategy; a key of tokens.", checks=(token_of_universe,)
    )
    tokens: dict[str, TokenSpec] = spec(
        "Tokens by symbol, in file order.",
        min_items=1,
        key_pattern=_SYMBOL,
        key_help="a token symbol (letters, digits, '.', '_' or '-')",
        publish="tokens",
    )
    pools: tuple[PoolSpec, ...] = spec(
        "Pools of declared tokens, each pair at most once.", unique_by="pair", publish="pools"
    )


@dataclass(frozen=True, kw_only=True)
class StrategySpec:
    """The strategy module under test and its parameters."""

    module: str = spec(
        "Dotted Python module path of the strategy.",
        pattern=_MODULE,
        pattern_help="a dotted module path like runner.strategies.rebalance",
    )
    parameters: dict[str, Any] = spec(
        "Free-form parameters handed to the strategy (numbers arrive as Decimal).",
        default_factory=dict,
    )


@dataclass(frozen=True, kw_only=True)
class AccountingSpec:
    """How the runner's accounting checks are judged."""

    checks: bool = spec("Run the accounting checks every cycle.", default=True)
    tolerance: Decimal = spec(
        "Absolute tolerance in token units.", default=Decimal(0), kind="amount", min=Decimal(0)
    )
    relative_tolerance: Decimal = spec(
        "Relative tolerance, like 0.01%.",
        default=Decimal(0),
        kind="percent",
        min=Decimal(0),
        exclusive_max=Decimal(1),
    )
    dust: Decimal = spec(
        "Balances at or below this many token units count as dust.",
        default=Decimal(0),
        kind="amount",
        min=Decimal(0),
    )
    on_mismatch: Literal["abort", "correct", "report"] = spec(
        "What the runner does about a mismatch.", default="report"
    )


# -- timeline events -----------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Event:
    """Something the world does to the strategy at a given time; one key names the kind."""

    kind: ClassVar[str] = ""
    variant_noun: ClassVar[str] = "event kind"
    variants: ClassVar[tuple[type[Event], ...]] = ()

    at: timedelta = spec(
        "When: a duration after clock.start (like 1d12h) or an absolute datetime.",
        kind="time_offset",
        checks=(not_before_start, not_after_until),
    )
    line: int = spec("Source line of the entry.", default=0, yaml=False, inject="line")


@dataclass(frozen=True, kw_only=True)
class DepositEvent(Event):
    """An investor deposits reserve currency."""

    kind: ClassVar[str] = "deposit"

    amount: Decimal = spec("Amount of reserve currency.", kind="amount", exclusive_min=Decimal(0))
    by: str = spec(
        "Investor depositing; defaults to the first investor.",
        default_from=first_investor,
        checks=(investor_name,),
    )


@dataclass(frozen=True, kw_only=True)
class WithdrawEvent(Event):
    """An investor redeems shares: a fraction of their holding (50%) or an absolute amount."""

    kind: ClassVar[str] = "withdraw"
    exactly_one: ClassVar[tuple[tuple[str, ...], ...]] = (("fraction", "shares"),)

    fraction: Decimal | None = spec(
        "Fraction of the investor's shares, written as shares: 50%.",
        default=None,
        yaml_key="shares",
        kind="percent_sign",
        expected="a share fraction like 50%",
        exclusive_min=Decimal(0),
        max=Decimal(1),
    )
    shares: Decimal | None = spec(
        "Absolute number of shares, written as shares: 12.5.",
        default=None,
        kind="amount",
        expected="a share amount like 12.5",
        exclusive_min=Decimal(0),
    )
    by: str = spec(
        "Investor redeeming; defaults to the first investor.",
        default_from=first_investor,
        checks=(investor_name,),
    )


@dataclass(frozen=True, kw_only=True)
class RebaseEvent(Event):
    """A rebasing token changes every holder's balance by a percentage."""

    kind: ClassVar[str] = "rebase"

    token: str = spec("A rebasing token.", checks=(rebasing_token,))
    change: Decimal = spec(
        "Balance change, like +1% or -5%.",
        kind="percent",
        exclusive_min=Decimal(-1),
        nonzero=True,
    )


@dataclass(frozen=True, kw_only=True)
class InterestEvent(Event):
    """A rebasing token accrues interest to holders."""

    kind: ClassVar[str] = "interest"

    token: str = spec("A rebasing token.", checks=(rebasing_token,))
    rate: Decimal = spec("Interest accrued, like 0.5%.", kind="percent", exclusive_min=Decimal(0))


@dataclass(frozen=True, kw_only=True)
class PriceShockEvent(Event):
    """A pool's price jumps, by a relative move or to an absolute price."""

    kind: ClassVar[str] = "price_shock"
    exactly_one: ClassVar[tuple[tuple[str, ...], ...]] = (("move", "price"),)

    pair: str = spec("A pool of the universe, as declared.", checks=(pool_of_universe,))
    move: Decimal | None = spec(
        "Relative price move, like -30%.",
        default=None,
        kind="percent",
        exclusive_min=Decimal(-1),
    )
    price: Decimal | None = spec(
        "New absolute price in QUOTE per BASE.",
        default=None,
        kind="amount",
        exclusive_min=Decimal(0),
    )


@dataclass(frozen=True, kw_only=True)
class FailNextTradeEvent(Event):
    """The next trade (on a pair, or any) fails the chosen way."""

    kind: ClassVar[str] = "fail_next_trade"

    pair: str | None = spec(
        "Pool whose next trade fails; any pair when omitted.",
        default=None,
        checks=(pool_of_universe,),
    )
    mode: Literal["revert", "out_of_gas", "slippage", "transfer_failure"] = spec(
        "How the trade fails.", default="revert"
    )
    reason: str = spec("Revert reason reported.", default="SIMULATED_FAILURE", min_length=1)


@dataclass(frozen=True, kw_only=True)
class ExternalTransferEvent(Event):
    """Tokens arrive at (+) or leave (-) the strategy's vault outside its control."""

    kind: ClassVar[str] = "external_transfer"

    token: str = spec("A token of the universe.", checks=(token_of_universe,))
    amount: Decimal = spec(
        "Signed amount in token units: + arrives, - leaves.", kind="amount", nonzero=True
    )


@dataclass(frozen=True, kw_only=True)
class CrashEvent(Event):
    """The runner process dies just before the given step completes."""

    kind: ClassVar[str] = "crash"

    step: CrashStep = spec("Runner step during which the process dies.", shorthand=True)


@dataclass(frozen=True, kw_only=True)
class SetParameterEvent(Event):
    """A strategy parameter is changed mid-run."""

    kind: ClassVar[str] = "set_parameter"

    name: str = spec("Parameter name.", min_length=1)
    value: Any = spec("New value (any YAML value).")


@dataclass(frozen=True, kw_only=True)
class NoteEvent(Event):
    """Free text shown in the run log at that time; changes nothing."""

    kind: ClassVar[str] = "note"

    text: str = spec("The note.", shorthand=True, min_length=1)


@dataclass(frozen=True, kw_only=True)
class MempoolEvent(Event):
    """The node's block production, as the runner's transactions experience it (anvil only).

    ``stall``: blocks stop; the runner's broadcasts stay pending. ``resume``: a block
    includes everything pending. ``drop``: pending transactions are dropped from the
    mempool (anvil_dropTransaction), as a node that lost them would.
    """

    kind: ClassVar[str] = "mempool"

    action: Literal["stall", "resume", "drop"] = spec("What the node does.", shorthand=True)


@dataclass(frozen=True, kw_only=True)
class NodeFaultEvent(Event):
    """The node answers the runner's next ``calls`` requests with errors or not at all."""

    kind: ClassVar[str] = "node_fault"

    mode: Literal["error", "timeout"] = spec("Error responses or timeouts.", default="error")
    calls: int = spec("How many of the runner's node requests fail.", default=1, min=1)
    method: (
        Literal["call", "call_many", "get_logs", "get_receipt", "get_nonce", "block_number",
                "block_hash", "send_raw_transaction"]
        | None
    ) = spec("Only requests of this kind fail; any kind when omitted.", default=None)


@dataclass(frozen=True, kw_only=True)
class NodeRestartEvent(Event):
    """The node process restarts, keeping its chain through a state dump (anvil only)."""

    kind: ClassVar[str] = "node_restart"

    reason: str = spec("Why, for the journal.", default="maintenance", shorthand=True)


@dataclass(frozen=True, kw_only=True)
class ReorgEvent(Event):
    """The chain goes back to how it was at an earlier instant (before that instant's events).

    Blocks after it vanish, with the runner's confirmed trades in them: what the runner
    does about trades that no longer exist is the point of such a scenario.
    """

    kind: ClassVar[str] = "reorg"

    to: timedelta = spec(
        "The earlier instant to go back to: a duration after clock.start or a datetime.",
        kind="time_offset",
        shorthand=True,
        checks=(not_before_start,),
    )

    def problems(self) -> Iterator[tuple[str, str]]:
        """A reorg can only go back in time."""
        if self.to >= self.at:
            yield "to", f"an instant before the reorg itself ({format_duration(self.at)})"


# -- expectations ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Expectation:
    """Something that must hold at a given time (``end`` = clock.until); one key names the kind."""

    kind: ClassVar[str] = ""
    variant_noun: ClassVar[str] = "expectation kind"
    variants: ClassVar[tuple[type[Expectation], ...]] = ()

    at: timedelta = spec(
        "When to check: a duration after clock.start, an absolute datetime, or end.",
        kind="time_offset",
        allow_end=True,
        checks=(not_before_start, not_after_until),
    )
    line: int = spec("Source line of the entry.", default=0, yaml=False, inject="line")


@dataclass(frozen=True, kw_only=True)
class PositionExpectation(Expectation):
    """The state of the position on a pair."""

    kind: ClassVar[str] = "position"

    pair: str = spec("A pool of the universe, as declared.", checks=(pool_of_universe,))
    state: Literal["open", "closed", "frozen"] | None = spec("Position state.", default=None)
    closed_by: Literal["stop_loss", "take_profit", "trailing_stop", "strategy"] | None = spec(
        "What closed the position.", default=None
    )


@dataclass(frozen=True, kw_only=True)
class AccountingExpectation(Expectation):
    """The outcome of the accounting check."""

    kind: ClassVar[str] = "accounting"

    outcome: Literal["ok", "dust", "mismatch"] = spec("Accounting check outcome.")
    asset: str | None = spec(
        "Token the outcome is about.", default=None, checks=(token_of_universe,)
    )


@dataclass(frozen=True, kw_only=True)
class TradeExpectation(Expectation):
    """The status of the latest trade (on a pair, or any)."""

    kind: ClassVar[str] = "trade"

    pair: str | None = spec(
        "Pool traded; any when omitted.", default=None, checks=(pool_of_universe,)
    )
    status: Literal["success", "failed", "repaired"] = spec("Trade status.")
    reason: str | None = spec("Substring of the failure reason.", default=None)


@dataclass(frozen=True, kw_only=True)
class NavExpectation(Expectation):
    """Net asset value within bounds, in reserve currency."""

    kind: ClassVar[str] = "nav"
    at_least_one: ClassVar[tuple[tuple[str, ...], ...]] = (("min", "max"),)

    min: Decimal | None = spec("Lowest acceptable NAV.", default=None, kind="amount")
    max: Decimal | None = spec("Highest acceptable NAV.", default=None, kind="amount")

    def problems(self) -> Iterator[tuple[str, str]]:
        """An empty range can never hold; say so now rather than after a long run."""
        if self.min is not None and self.max is not None and self.max < self.min:
            yield "max", f"an amount >= min ({self.min})"


@dataclass(frozen=True, kw_only=True)
class BalanceUpdateExpectation(Expectation):
    """A balance update of the given cause was recorded."""

    kind: ClassVar[str] = "balance_update"

    cause: Literal["deposit", "redemption", "interest", "rebase", "correction"] = spec(
        "Cause of the balance update."
    )
    asset: str | None = spec("Token updated.", default=None, checks=(token_of_universe,))


@dataclass(frozen=True, kw_only=True)
class ErrorExpectation(Expectation):
    """The run is expected to stop with an error whose message contains the text."""

    kind: ClassVar[str] = "error"

    contains: str = spec("Substring of the error message.", shorthand=True, min_length=1)


@dataclass(frozen=True, kw_only=True)
class ViolationExpectation(Expectation):
    """An invariant is expected to fail at this instant: a planted fault is caught."""

    kind: ClassVar[str] = "violation"

    invariant: str = spec("The invariant's name (harness invariants lists them).", shorthand=True, min_length=1)


EVENT_TYPES: tuple[type[Event], ...] = (
    DepositEvent,
    WithdrawEvent,
    RebaseEvent,
    InterestEvent,
    PriceShockEvent,
    FailNextTradeEvent,
    ExternalTransferEvent,
    CrashEvent,
    SetParameterEvent,
    NoteEvent,
    MempoolEvent,
    NodeFaultEvent,
    NodeRestartEvent,
    ReorgEvent,
)
EXPECTATION_TYPES: tuple[type[Expectation], ...] = (
    PositionExpectation,
    AccountingExpectation,
    TradeExpectation,
    NavExpectation,
    BalanceUpdateExpectation,
    ErrorExpectation,
    ViolationExpectation,
)
Event.variants = EVENT_TYPES
Expectation.variants = EXPECTATION_TYPES


# -- the scenario ----------------------------------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """A world (tokens, pools, a strategy) and a timeline of events and expectations."""

    name: str = spec("Scenario name, shown in reports.", min_length=1)
    description: str = spec("What the scenario exercises and why.")
    seed: int = spec("Seed for every random choice of the run.", default=0, min=0)
    clock: ClockSpec = spec("Simulated time.")
    chain: ChainSpec = spec("Chain backend.", default_factory=ChainSpec)
    universe: UniverseSpec = spec("Tokens and pools.")
    strategy: StrategySpec = spec("Strategy under test.")
    accounting: AccountingSpec = spec("Accounting check settings.", default_factory=AccountingSpec)
    investors: tuple[str, ...] = spec(
        "Names of the investor accounts; events' by must name one.",
        default=("alice",),
        min_items=1,
        unique=True,
        pattern=_NAME,
        pattern_help="a name like alice (letters, digits, '_' or '-')",
        publish="investors",
    )
    timeline: tuple[Event, ...] = spec(
        "Events in file order; the engine orders them stably by time.", default=()
    )
    expect: tuple[Expectation, ...] = spec("Expectations checked during the run.", default=())
    source: SourceInfo = spec(
        "The file this scenario was loaded from.",
        default=SourceInfo(path="<memory>", sha256=""),
        yaml=False,
        inject="source",
    )
