"""The scenario model: frozen pydantic models, the single source of truth of the format.

Each class is what a YAML mapping holds; each field's annotation says how its value is
written and bounded (``Annotated[Decimal, PercentSyntax(), Range(ge=0, lt=0.1)]``), its
``description`` documents it in ``harness schema``. Rules spanning fields live in
``problems()``, each reported at the field to change. Timeline events and expectations
are keyed entries (entries.py): a new kind is one subclass of ``Event`` or
``Expectation`` with a ``kind``, and the union, the schema, the template's catalogue and
the package's exported names all follow from it.

Every bound the harness relies on is a named constant here, so what a scenario may ask
of the world is stated once (see the README's "Limits").
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from decimal import Context, Decimal
from pathlib import Path
from typing import Annotated, Any, ClassVar

from pydantic import (
    AfterValidator,
    Field,
    PrivateAttr,
    TypeAdapter,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import InitErrorDetails, PydanticCustomError

from harness.scenario import quantities as q
from harness.scenario.entries import Entry, Kinds
from harness.scenario.types import (
    Address,
    DateTime,
    Duration,
    Facts,
    InvestorRef,
    ModulePath,
    Name,
    PairName,
    PlainValue,
    PoolRef,
    RebasingTokenRef,
    SinceStart,
    SourceInfo,
    Symbol,
    TokenRef,
    UntilOffset,
    When,
    WhenOrEnd,
    facts_of,
    listing,
)
from harness.vocabulary import (
    PROCESS_BACKENDS,
    SELF_TRANSFER,
    BackendName,
    InvariantName,
    KeyHolder,
    MempoolAction,
    NodeFaultMode,
    TradeFaultMode,
    WireFault,
    WithdrawalStatus,
)
from harness.wire.methods import LAGGABLE
from runner.chain.methods import FAULTABLE, NodeMethod
from runner.state import BalanceUpdateCause, TradeStatus, Verdict
from runner.state.vocabulary import ClosedBy, MismatchPolicy, PositionState
from runner.steps import STEPS, Step
from runner.strategy.validation import (
    Amount,
    AmountSyntax,
    AsTuple,
    Bool,
    Choice,
    Int,
    Percent,
    PercentSyntax,
    Problem,
    Range,
    StrictModel,
    Text,
    closest,
    expected,
    format_decimal,
)
from runner.universe import V2_FEE, V3_FEE_TIERS, Dex, VaultKind

_IMPORTED = frozenset(globals())

# -- limits ----------------------------------------------------------------------------------

MAX_DECIMALS = 30
"""Token decimals: 10**30 base units per token still leaves room in a uint112 reserve."""
MAX_TOKENS = 100
MAX_POOLS = 100
MAX_INVESTORS = 100
MAX_ENTRIES = 10_000
"""Timeline events, and expectations, per scenario."""
MAX_NODE_CALLS = 1_000
MAX_INSTANTS = 10_000
"""Default bound on a run's instants (ticks plus trigger checks); ``max_instants`` overrides."""
MAX_UNITS = 2**96
"""Largest base-unit quantity the world mints at once (pool reserves, deposits, transfers):
the pair holds reserves in uint112, so this leaves 2**16-fold room for trades and shocks."""
MIN_POOL_UNITS = 1_000
"""Smallest pool reserve in base units: a price needs a few digits of resolution."""
MAX_PRICE_FACTOR = 10**6
"""A price shock's target lies within this factor of the pool's declared price."""
MAX_FORK_DEPTH = 4

CRASH_STEPS: tuple[str, ...] = tuple(STEPS)
"""Runner steps in execution order; a crash at S means the process dies just before S completes."""
CrashStep = Step


_WIDE = Context(prec=2 * 78)
"""Room for any amount the model takes (at most 2**96 base units, 29 digits, at up to MAX_DECIMALS
decimals) in scaleb, which rounds to its context's precision: at the default 28 digits
2**96 base units of a 24-decimal token came out above 2**96 (fuzz seed 4 run 52)."""


def _fits(units: Decimal, low: int = 1) -> bool:
    return low <= units <= MAX_UNITS


def _rounded(value: Decimal) -> str:
    """A limit for people: whole units when it is above one, else as exact as it is."""
    return str(int(value)) if value > 1 else format_decimal(value)


def _units_range(decimals: int, low: int = 1) -> str:
    """"between 0.000001 and 79228162514264337593543.950336" for a token of 6 decimals."""
    scale = Decimal(10) ** -decimals
    return f"between {format_decimal(low * scale)} and {_rounded(MAX_UNITS * scale)}"


# -- the world -------------------------------------------------------------------------------


class ClockSpec(StrictModel):
    """Simulated time: when the run starts, how often the strategy cycles, when it stops."""

    start: Annotated[DateTime, Range(ge=q.EARLIEST_START, lt=q.LATEST_START)] = Field(
        description="Simulated wall-clock start, an ISO-8601 datetime with a timezone (1971 to 2099)."
    )
    cycle: Annotated[Duration, Range(gt=timedelta(0))] = Field(
        description="Interval between strategy cycles (on_clock)."
    )
    trigger_checks: Annotated[Duration, Range(gt=timedelta(0))] | None = Field(
        None, description="Interval between stop-loss/take-profit trigger checks; shorter than cycle."
    )
    until: UntilOffset = Field(description="When the run stops: a duration after start, or an absolute datetime.")

    def time_at(self, offset: timedelta) -> datetime:
        """The absolute simulated time of an event or expectation offset."""
        return self.start + offset

    def instants(self) -> int:
        """Ticks (every cycle from 0 to until) plus the trigger checks between them."""
        micro = timedelta(microseconds=1)
        count = self.until // self.cycle + 1
        if self.trigger_checks is not None:
            a, b = self.cycle // micro, self.trigger_checks // micro
            both = a * b // _gcd(a, b) * micro
            count += self.until // self.trigger_checks - self.until // both
        return count

    def problems(self, context: Any) -> Iterator[Problem]:
        if self.trigger_checks is not None and self.trigger_checks >= self.cycle:
            yield Problem(("trigger_checks",), f"a duration shorter than cycle ({q.format_duration(self.cycle)})")
            return
        facts = context if isinstance(context, Facts) else None
        limit = facts.max_instants if facts is not None and facts.max_instants else MAX_INSTANTS
        count = self.instants()
        if count > limit:
            name = "trigger_checks" if self.trigger_checks is not None else "cycle"
            interval = self.trigger_checks or self.cycle
            yield Problem(
                (name,),
                f"a run of at most {limit} instants until clock.until (raise it with --max-instants)",
                f"{q.format_duration(interval)}, which makes {count} instants",
            )


def _gcd(a: int, b: int) -> int:
    while b:
        a, b = b, a % b
    return a


def _fork_source(value: str | None, info: ValidationInfo) -> str | None:
    """``scenario:PATH`` names a history scenario, relative to this file; it must load.

    Only ``.yaml``/``.yml`` regular files are opened (so no other file's content can
    reach a message), cycles are refused, and the value becomes the resolved path.
    """
    facts = facts_of(info)
    if value is None or not value.startswith("scenario:") or facts is None or facts.load_history is None:
        return value
    load_history = facts.load_history

    written = value.removeprefix("scenario:")
    here = facts.source.path
    base = Path(here).parent if here not in ("<memory>", "<string>") else Path.cwd()
    path = Path(os.path.abspath(base / written))
    what = "scenario:PATH naming a scenario file (.yaml or .yml) relative to this file"
    if path.suffix not in (".yaml", ".yml"):
        raise expected(what)
    if path in facts.forks:
        raise expected("a history scenario that does not fork back to this one", found=f"{value!r} (a cycle)")
    if len(facts.forks) > MAX_FORK_DEPTH:
        raise expected(f"a history at most {MAX_FORK_DEPTH} forks deep", found=f"{value!r} (one fork too many)")
    problem = load_history(path, (*facts.forks, path), facts.max_instants)
    if problem is not None:
        raise expected(f"{what} that loads", found=f"{value!r} ({problem})")
    return f"scenario:{path}"


class ChainSpec(StrictModel):
    """Which chain backend runs the scenario."""

    backend: Annotated[BackendName, Choice.of(BackendName)] = Field(
        BackendName.revm,
        description="Chain backend: in-process revm (the default: anvil's EVM, the fastest), in-process "
        "eth-tester (py-evm), a local anvil, or anvil forking a chain.",
    )
    fork_url: Annotated[str, Text("a URL without spaces", pattern=r"\S+", max_length=2_000)] | None = Field(
        None,
        description="RPC URL to fork from, or scenario:PATH (a history scenario, relative to this "
        "file); required with (and only with) backend anvil-fork.",
    )
    fork_block: Annotated[Int, Range(ge=0, le=2**63 - 1)] | None = Field(
        None, description="Block number to fork at, pinned so the run is reproducible; anvil-fork only."
    )

    @model_validator(mode="after")
    def _load_fork_source(self, info: ValidationInfo) -> ChainSpec:
        if self.fork_url is not None:
            try:
                resolved = _fork_source(self.fork_url, info)
            except PydanticCustomError as exc:  # located at the key, like the model's other errors
                raise ValidationError.from_exception_data(
                    type(self).__name__, [InitErrorDetails(type=exc, loc=("fork_url",), input=self.fork_url)]
                ) from None
            if resolved != self.fork_url:
                return self.model_copy(update={"fork_url": resolved})
        return self

    def problems(self, context: Any) -> Iterator[Problem]:
        """A fork needs both a URL and a pinned block; the other backends take neither."""
        forking = self.backend == BackendName.anvil_fork
        wanted = {"fork_url": "an RPC URL", "fork_block": "a block number"}
        for name, what in wanted.items():
            given = getattr(self, name) is not None
            if forking and not given:
                yield Problem((name,), f"{what} (required when backend is anvil-fork)", "nothing (key missing)")
            elif given and not forking:
                yield Problem((name,), f"no {name} unless backend is anvil-fork")


def _checksummed(value: str) -> str:
    """A mixed-case address must carry a valid EIP-55 checksum (a mistyped digit is
    caught); all-lowercase or all-uppercase hex has none to check."""
    from runner.chain.wallet import checksum

    digits = value[2:]
    if digits.lower() != digits and digits.upper() != digits and checksum(bytes.fromhex(digits)) != value:
        raise expected("an address with a valid EIP-55 checksum (or all lowercase)",
                       found=f"{value!r} (checksummed it is {checksum(bytes.fromhex(digits))})")
    return value


ChainAddress = Annotated[Address, AfterValidator(_checksummed)]
"""An address pasted from an explorer: 0x + 40 hex digits, its checksum checked when it has one."""
MULTICALL3 = "0xcA11bde05779D4C0C3B8C6D32e9A9bbAe18Ae9A7"
"""Multicall3's address, the same on every public chain (its aggregate3 is what the runner batches reads with)."""


class TokenSpec(StrictModel):
    """One ERC-20 token of the simulated universe."""

    decimals: Annotated[Int, Range(ge=0, le=MAX_DECIMALS)] = Field(18, description="Token decimals.")
    rebasing: Bool = Field(False, description="Whether balances change without transfers (rebase and interest events).")
    transfer_fee: Annotated[Percent, Range(ge=Decimal(0), lt=Decimal(1))] = Field(
        Decimal(0), description="Fee taken on every transfer, like 1% (fee-on-transfer tokens)."
    )
    address: ChainAddress | None = Field(
        None, description="Address of the existing token (universe.adopt): its symbol is checked on chain, its "
        "decimals read there (and checked when written)."
    )

    def problems(self, context: Any) -> Iterator[Problem]:
        """The rebasing token (a stETH-like share token) takes no fee on transfer: a
        scenario asking for both would run a token unlike the one it declares."""
        if self.rebasing and self.transfer_fee:
            yield Problem(("transfer_fee",), "0 for a rebasing token (the rebasing token takes no fee)",
                          format_decimal(self.transfer_fee))


def _distinct_sides(value: str) -> str:
    """A pool of a token against itself has no price."""
    base, _, quote = value.partition("/")
    if base == quote:
        raise expected("a pair of two different tokens")
    return value


def _pair_of_tokens(value: str, info: ValidationInfo) -> str:
    """Both sides of a pool must be declared tokens."""
    facts = facts_of(info)
    if facts is None or facts.tokens is None or all(side in facts.tokens for side in value.split("/")):
        return value
    raise expected(f"a pair of tokens of the universe ({listing(list(facts.tokens))})")


class PoolSpec(StrictModel):
    """A pool; its price and depth are given in the quote token. A uniswap-v3 pool of a
    declaration has the liquidity of the v2 pool of the same one (one full-range position,
    see harness/protocols/uniswap_v3.py), so only its fee tier differs."""

    pair: Annotated[PairName, AfterValidator(_distinct_sides), AfterValidator(_pair_of_tokens)] = Field(
        description="The pool as BASE/QUOTE, both declared tokens."
    )
    dex: Annotated[Dex, Choice.of(Dex)] = Field(
        Dex.fixture, description="The exchange: the project's fixture AMM, or Uniswap v2 / v3 from their published builds."
    )
    price: Annotated[Amount, Range(gt=Decimal(0))] | None = Field(
        None, description="Initial price in QUOTE per BASE (deployed pools; an adopted pool's is read from the chain)."
    )
    depth: Annotated[Amount, Range(gt=Decimal(0))] | None = Field(
        None, description="Value of the pool's quote side, in QUOTE units (deployed pools only)."
    )
    fee: Annotated[Percent, Range(ge=Decimal(0), lt=Decimal("0.1"))] = Field(
        Decimal("0.003"), description="Swap fee, like 0.30% (uniswap-v2: 0.3% only; uniswap-v3: 0.01%, 0.05%, 0.3% or 1%)."
    )
    address: ChainAddress | None = Field(
        None, description="Address of the existing pool (universe.adopt): its tokens and fee are checked on chain."
    )

    @property
    def base(self) -> str:
        """The token being priced (left of the slash)."""
        return self.pair.partition("/")[0]

    @property
    def quote(self) -> str:
        """The token prices are expressed in (right of the slash)."""
        return self.pair.partition("/")[2]

    @property
    def declared_price(self) -> Decimal:
        """The price of a pool the harness deploys (`problems` requires it there)."""
        assert self.price is not None, f"{self.pair}: an adopted pool has no declared price"
        return self.price

    @property
    def declared_depth(self) -> Decimal:
        assert self.depth is not None, f"{self.pair}: an adopted pool has no declared depth"
        return self.depth

    def problems(self, context: Any) -> Iterator[Problem]:
        """Both reserves, in base units, must fit the pair (uint112) with room to move."""
        if self.address is not None:  # adopted: the chain has its reserves (UniverseSpec checks the rest)
            for name in ("price", "depth"):
                if getattr(self, name) is not None:
                    yield Problem((name,), f"no {name} on an adopted pool (it is read from the chain at address)",
                                  format_decimal(getattr(self, name)))
            if self.dex == Dex.fixture:
                yield Problem(("dex",), "uniswap-v2 or uniswap-v3 for an adopted pool", "fixture")
            return
        if self.price is None or self.depth is None:
            return  # UniverseSpec says which is missing: an address (adopted) or price and depth
        if self.dex == Dex.uniswap_v2 and self.fee != V2_FEE:
            yield Problem(("fee",), "0.3% (Uniswap v2 has one fee)", f"{format_decimal(self.fee * 100)}%")
        if self.dex == Dex.uniswap_v3 and self.fee not in V3_FEE_TIERS:
            tiers = ", ".join(f"{format_decimal(t * 100)}%" for t in V3_FEE_TIERS)
            yield Problem(("fee",), f"a Uniswap v3 fee tier ({tiers})", f"{format_decimal(self.fee * 100)}%")
        tokens = context.tokens if isinstance(context, Facts) else None
        if tokens is None or self.base not in tokens or self.quote not in tokens:
            return
        if self.dex == Dex.uniswap_v3:
            for side in (self.base, self.quote):
                spec = tokens[side]
                if spec.transfer_fee or spec.rebasing:
                    what = "a fee-on-transfer" if spec.transfer_fee else "a rebasing"
                    yield Problem(("dex",), f"fixture or uniswap-v2 for {what} token like {side} (a v3 pool refuses a "
                                  "payment short of the amount swapped)", "uniswap-v3")
                    return
        quote_scale = Decimal(10) ** tokens[self.quote].decimals
        base_scale = Decimal(10) ** tokens[self.base].decimals
        low = max(MIN_POOL_UNITS / quote_scale, MIN_POOL_UNITS * self.price / base_scale)
        high = min(MAX_UNITS / quote_scale, MAX_UNITS * self.price / base_scale)
        if low > high:
            yield Problem(("price",), f"a price at which {MIN_POOL_UNITS} to 2**96 base units of each token make a pool")
        elif not low <= self.depth <= high:
            yield Problem(
                ("depth",),
                f"a depth between {_rounded(low)} and {_rounded(high)} {self.quote} at price "
                f"{format_decimal(self.price)} (each reserve {MIN_POOL_UNITS} to 2**96 base units)",
            )


def _routes(universe: UniverseSpec) -> Iterator[Problem]:
    """Every token the strategy may trade needs the pool the runner names its position by
    and a route from the reserve: asked of the runner's own routing, on a stub universe."""
    from runner.models.routing import NoRoute, RoutingModel
    from runner.universe import Pool, Token, Universe

    tokens = {
        symbol: Token(symbol, index.to_bytes(20, "big"), spec.decimals, spec.rebasing)
        for index, (symbol, spec) in enumerate(universe.tokens.items(), start=1)
    }
    pools = {
        pool.pair: Pool(pool.pair, tokens[pool.base], tokens[pool.quote], bytes(20), pool.fee)
        for pool in universe.pools
        if pool.base in tokens and pool.quote in tokens
    }
    stub = Universe(tokens[universe.reserve], tokens, pools, b"", b"", b"", b"")
    routing = RoutingModel(stub)
    for symbol in stub.tradeable_assets():
        try:
            stub.pair_for(symbol)
            routing.buy_path(symbol)
        except (KeyError, NoRoute):
            yield Problem(
                ("tokens", symbol),
                f"a token the runner can trade: a pool {symbol}/{universe.reserve} (or {symbol}/X "
                f"with a route to {universe.reserve} in at most 3 hops)",
                f"no such pool for {symbol!r}",
            )


class UniswapV2Adoption(StrictModel):
    """An existing Uniswap v2 deployment: the pools' factory and the Router02 the vault swaps through."""

    factory: ChainAddress = Field(description="UniswapV2Factory.")
    router: ChainAddress = Field(description="UniswapV2Router02 (its factory() must be the factory).")


class UniswapV3Adoption(StrictModel):
    """An existing Uniswap v3 deployment: factory, SwapRouter, and the view quoter the vault values by."""

    factory: ChainAddress = Field(description="UniswapV3Factory.")
    router: ChainAddress = Field(description="SwapRouter (its factory() must be the factory).")
    quoter: ChainAddress = Field(description="The view quoter v3 holdings are valued by (the vault's route quoter).")


class AdoptSpec(StrictModel):
    """Existing contracts the run adopts by address instead of deploying: what a fork of
    a real chain (or `harness run --rpc`) already holds. The harness reads decimals,
    symbols, pool tokens and fee tiers from the chain and refuses, naming the address and
    what it found, anything that is not what the scenario says."""

    vault: ChainAddress = Field(description="The ERC-4626 strategy vault the runner takes over.")
    asset_manager: ChainAddress | None = Field(
        None, description="The vault's asset manager (checked against the vault's assetManager()); the runner "
        "sends as it, by impersonation when the harness does not hold its key. Default: the vault's.")
    multicall: ChainAddress = Field(MULTICALL3, description="A Multicall3-compatible contract (aggregate3).")
    uniswap_v2: UniswapV2Adoption | None = Field(None, description="Uniswap v2, if a pool is on it.")
    uniswap_v3: UniswapV3Adoption | None = Field(None, description="Uniswap v3, if a pool is on it.")


class UniverseSpec(StrictModel):
    """The tokens and pools that exist when the run starts."""

    reserve: TokenRef = Field(description="Reserve currency of the strategy; a key of tokens.")
    tokens: Annotated[dict[Symbol, TokenSpec], Field(min_length=1, max_length=MAX_TOKENS)] = Field(
        description="Tokens by symbol, in file order."
    )
    pools: Annotated[tuple[PoolSpec, ...], Field(max_length=MAX_POOLS), AsTuple] = Field(
        description="Pools of declared tokens, each pair at most once."
    )
    asset_manager_key: Name | None = Field(
        None, description="Label the deployed vault's asset-manager key derives from (default asset-manager): a "
        "history scenario whose vault a fork adopts names another, so that fork's harness holds no key for it.",
    )
    adopt: AdoptSpec | None = Field(
        None, description="Existing contracts to run on instead of deploying (a fork of a real chain, --rpc): "
        "the vault, its asset manager and the exchanges; tokens and pools then give their address."
    )

    def problems(self, context: Any) -> Iterator[Problem]:
        yield from self._adoption_problems()
        first: dict[str, int] = {}
        for index, pool in enumerate(self.pools):
            if pool.pair in first:
                found = f"{pool.pair!r} again (first as pools[{first[pool.pair]}])"
                yield Problem(("pools", index, "pair"), "each pair at most once", found)
            first.setdefault(pool.pair, index)
        if self.reserve in self.tokens:
            yield from _routes(self)


    def _adoption_problems(self) -> Iterator[Problem]:
        """Adopted means every token and pool names its address and every pool's exchange
        is adopted; deployed means none does (an address would be ignored)."""
        adopt = self.adopt
        if adopt is not None and self.asset_manager_key is not None:
            yield Problem(("asset_manager_key",), "no asset_manager_key with universe.adopt (the adopted vault has "
                          "its own manager: adopt.asset_manager)", self.asset_manager_key)
        if adopt is None:
            for symbol, token in self.tokens.items():
                if token.address is not None:
                    yield Problem(("tokens", symbol, "address"), "no address unless universe.adopt names the "
                                  "contracts to run on", token.address)
            for index, pool in enumerate(self.pools):
                if pool.address is not None:
                    yield Problem(("pools", index, "address"), "no address unless universe.adopt names the "
                                  "contracts to run on", pool.address)
                for name in ("price", "depth"):
                    if getattr(pool, name) is None:
                        yield Problem(("pools", index, name), f"a {name} (required for a pool the harness deploys; "
                                      "an adopted pool gives its address)", "nothing (key missing)")
            return
        for symbol, token in self.tokens.items():
            if token.address is None:
                yield Problem(("tokens", symbol), "an address (universe.adopt: every token is an existing contract)",
                              "nothing (key missing)")
        exchanges = {Dex.uniswap_v2: adopt.uniswap_v2, Dex.uniswap_v3: adopt.uniswap_v3}
        for index, pool in enumerate(self.pools):
            if pool.address is None:
                yield Problem(("pools", index), "an address (universe.adopt: every pool is an existing contract)",
                              "nothing (key missing)")
            elif pool.dex in exchanges and exchanges[pool.dex] is None:
                key = "uniswap_v2" if pool.dex == Dex.uniswap_v2 else "uniswap_v3"
                yield Problem(("adopt", key), f"the {pool.dex} contracts (pools[{index}] is on {pool.dex})",
                              "nothing (key missing)")


def _route_dexes(universe: UniverseSpec) -> dict[str, tuple[Dex, ...]]:
    """Each tradeable token's route (as the runner's routing finds it) as its pools' dexes."""
    from runner.models.routing import NoRoute, RoutingModel
    from runner.universe import Pool, Token, Universe

    tokens = {
        symbol: Token(symbol, index.to_bytes(20, "big"), spec.decimals, spec.rebasing)
        for index, (symbol, spec) in enumerate(universe.tokens.items(), start=1)
    }
    pools = {
        pool.pair: Pool(pool.pair, tokens[pool.base], tokens[pool.quote], bytes(20), pool.fee, pool.dex)
        for pool in universe.pools
        if pool.base in tokens and pool.quote in tokens
    }
    if universe.reserve not in tokens:
        return {}
    stub = Universe(tokens[universe.reserve], tokens, pools, b"", b"", b"", b"")
    routing = RoutingModel(stub)
    out = {}
    for symbol in stub.tradeable_assets():
        try:
            out[symbol] = tuple(p.dex for p in routing.pools_on(routing.buy_path(symbol)))
        except NoRoute:
            continue
    return out


class VaultSpec(StrictModel):
    """The strategy vault the runner manages and the investors deposit into."""

    kind: Annotated[VaultKind, Choice.of(VaultKind)] = Field(
        VaultKind.legacy,
        description="legacy: the fixture Vault, priced at the NAV the runner posts each cycle; erc4626: "
                    "StrategyVault4626, priced at a NAV computed on chain in the block of each deposit and redemption; "
                    "async: AsyncStrategyVault (ERC-7540), where a deposit or withdraw is a request (withdrawal: queued) "
                    "the runner settles at the books' NAV, and the harness claims at the next instant with events "
                    "(a redemption's claim is its payment: withdrawal: paid).",
    )


class StrategySpec(StrictModel):
    """The strategy module under test and its parameters (see the module's ``Parameters``)."""

    module: ModulePath = Field(description="Dotted Python module path of the strategy.")
    parameters: dict[Annotated[str, Text(max_length=64)], PlainValue] = Field(
        default_factory=dict,
        description="The strategy's parameters: names and values as its Parameters class declares them.",
    )

    def problems(self, context: Any) -> Iterator[Problem]:
        """Imported as the run imports it; its parameters validated as the run validates them."""
        if not isinstance(context, Facts):
            return
        if context.strategy_error is not None:
            yield Problem(("module",), "an importable strategy module with decide_trades(timestamp, universe, "
                          "state, pricing, parameters)", f"{self.module!r} ({context.strategy_error})")
            return
        if context.strategy is None:
            return
        from runner.strategy.parameters import ParameterError, parameters_class, validate_parameters

        try:
            validate_parameters(parameters_class(context.strategy), self.parameters, assets=_assets(context))
        except ParameterError as exc:
            for issue in exc.issues:
                yield Problem(("parameters", *issue.loc), issue.expected, issue.found, issue.suggestion)


def _assets(facts: Facts) -> tuple[str, ...] | None:
    if facts.tokens is None or facts.reserve is None:
        return None
    return tuple(symbol for symbol in facts.tokens if symbol != facts.reserve)


class AccountingSpec(StrictModel):
    """How the runner's accounting checks are judged: by value, in the reserve currency
    (a difference is small only when it is worth little), or in token units if asked."""

    checks: Bool = Field(True, description="Run the accounting checks every cycle.")
    tolerance: Annotated[Amount, Range(ge=Decimal(0))] = Field(
        Decimal(0), description="Absolute tolerance: the value of a difference, in the reserve currency."
    )
    relative_tolerance: Annotated[Percent, Range(ge=Decimal(0), lt=Decimal(1))] = Field(
        Decimal(0), description="Relative tolerance, like 0.01% of the ledger balance's value."
    )
    dust: Annotated[Amount, Range(ge=Decimal(0))] = Field(
        Decimal(0), description="A difference worth at most this much (reserve currency) is dust."
    )
    tolerance_units: Annotated[Amount, Range(ge=Decimal(0))] | None = Field(
        None, description="Also ok: a difference of at most this many token units."
    )
    dust_units: Annotated[Amount, Range(ge=Decimal(0))] | None = Field(
        None, description="Also dust: a difference of at most this many token units."
    )
    on_mismatch: Annotated[MismatchPolicy, Choice.of(MismatchPolicy)] = Field(
        MismatchPolicy.report, description="What the runner does about a mismatch."
    )


# -- timeline events -----------------------------------------------------------------------


def _first_investor(facts: Any) -> str | None:
    """Default for ``by``: the first investor, so one-investor scenarios never repeat it."""
    investors = facts.investors if isinstance(facts, Facts) else None
    return investors[0] if investors else None


def _reserve_units(amount: Decimal, context: Any, key: str, what: str, token: str | None = None) -> Iterator[Problem]:
    """An amount the world mints in one go must be at least one base unit and fit a reserve."""
    if not isinstance(context, Facts) or context.tokens is None:
        return
    symbol = token or context.reserve
    if symbol is None or symbol not in context.tokens:
        return
    decimals = context.tokens[symbol].decimals
    if not _fits(amount.copy_abs().scaleb(decimals, _WIDE)):  # copy_abs: abs() rounds too
        yield Problem((key,), f"{what} {_units_range(decimals)} {symbol} (1 to 2**96 base units)")


class Event(Entry):
    """Something the world does to the strategy at a given time; one key names the kind."""

    kinds: ClassVar[dict[str, type[Entry]]] = {}
    noun: ClassVar[str] = "event kind"
    backends: ClassVar[frozenset[BackendName] | None] = None
    """The backends that can carry the event out (None: every backend)."""

    at: When = Field(description="When: a duration after clock.start (like 1d12h) or an absolute datetime.")


class DepositEvent(Event):
    """An investor deposits reserve currency."""

    kind: ClassVar[str] = "deposit"
    example: ClassVar[str] = "{amount: 10_000, by: alice}"
    example_at: ClassVar[str] = "0s"
    live: ClassVar[bool] = True
    from_facts: ClassVar[Any] = {"by": _first_investor}

    amount: Annotated[Amount, Range(gt=Decimal(0))] = Field(description="Amount of reserve currency.")
    by: InvestorRef = Field(description="Investor depositing; defaults to the first investor.")

    def problems(self, context: Any) -> Iterator[Problem]:
        yield from _reserve_units(self.amount, context, "amount", "an amount")


class WithdrawEvent(Event):
    """An investor redeems shares: a fraction of their holding (50%) or an absolute amount."""

    kind: ClassVar[str] = "withdraw"
    example: ClassVar[str] = "{shares: 1%}"
    example_at: ClassVar[str] = "4d"
    live: ClassVar[bool] = True
    from_facts: ClassVar[Any] = {"by": _first_investor}
    renamed: ClassVar[Any] = {"fraction": "shares"}

    fraction: SkipJsonSchema[
        Annotated[Decimal, PercentSyntax(expected="a share fraction like 50%", sign_required=True),
                  Range(gt=Decimal(0), le=Decimal(1))] | None
    ] = None
    shares: Annotated[
        Decimal,
        AmountSyntax(expected="a share fraction like 50% or a share amount like 12.5"),
        Range(gt=Decimal(0)),
        WithJsonSchema({"anyOf": [
            {"type": "number", "exclusiveMinimum": 0},
            {"type": "string", "pattern": f"{q.PERCENT_PATTERN}|{q.AMOUNT_PATTERN}"},
        ]}),
    ] | None = Field(None, description="A fraction of the investor's shares (50%) or a number of shares (12.5).")
    by: InvestorRef = Field(description="Investor redeeming; defaults to the first investor.")

    @model_validator(mode="before")
    @classmethod
    def _route_shares(cls, data: Any) -> Any:
        """``shares: 50%`` is a fraction, ``shares: 12.5`` an amount: the % decides."""
        if isinstance(data, dict) and isinstance(data.get("shares"), str) and data["shares"].strip().endswith("%"):
            data = {**data, "fraction": data["shares"]}
            del data["shares"]
        return data

    def problems(self, context: Any) -> Iterator[Problem]:
        if (self.fraction is None) == (self.shares is None):
            found = "both" if self.fraction is not None else "nothing (key missing)"
            yield Problem(("shares",), "a share fraction like 50% or a share amount like 12.5", found)
        elif self.shares is not None:
            yield from _reserve_units(self.shares, context, "shares", "a share amount")


class RebaseEvent(Event):
    """A rebasing token changes every holder's balance by a percentage."""

    kind: ClassVar[str] = "rebase"
    example: ClassVar[str] = "{token: stETH, change: +1%}"
    example_at: ClassVar[str] = "1d12h"
    live: ClassVar[bool] = True

    token: RebasingTokenRef = Field(description="A rebasing token.")
    change: Annotated[Percent, Range(gt=Decimal(-1), le=Decimal(10), nonzero=True)] = Field(
        description="Balance change, like +1% or -5%."
    )


class InterestEvent(Event):
    """A rebasing token accrues interest to holders."""

    kind: ClassVar[str] = "interest"
    example: ClassVar[str] = "{token: stETH, rate: 0.5%}"
    example_at: ClassVar[str] = "3d"
    live: ClassVar[bool] = True

    token: RebasingTokenRef = Field(description="A rebasing token.")
    rate: Annotated[Percent, Range(gt=Decimal(0), le=Decimal(10))] = Field(description="Interest accrued, like 0.5%.")


class PriceShockEvent(Event):
    """A pool's price jumps, by a relative move or to an absolute price."""

    kind: ClassVar[str] = "price_shock"
    example: ClassVar[str] = "{pair: WETH/USDC, move: -30%}"
    example_at: ClassVar[str] = "2d"
    live: ClassVar[bool] = True
    json_rule: ClassVar[Any] = {"oneOf": [{"required": ["move"]}, {"required": ["price"]}]}

    pair: PoolRef = Field(description="A pool of the universe, as declared.")
    move: Annotated[Percent, Range(gt=Decimal(-1), le=Decimal(1000))] | None = Field(
        None, description="Relative price move, like -30%."
    )
    price: Annotated[Amount, Range(gt=Decimal(0))] | None = Field(None, description="New absolute price in QUOTE per BASE.")

    def problems(self, context: Any) -> Iterator[Problem]:
        if self.move is not None and self.price is not None:
            yield Problem(("price",), "exactly one of move or price", "both")
        elif self.move is None and self.price is None:
            yield Problem((), "exactly one of move or price", "neither")
        elif self.price is not None and isinstance(context, Facts) and context.pools is not None:
            declared = next((pool.price for pool in context.pools if pool.pair == self.pair), None)
            if declared is not None and not declared / MAX_PRICE_FACTOR <= self.price <= declared * MAX_PRICE_FACTOR:
                low, high = declared / MAX_PRICE_FACTOR, declared * MAX_PRICE_FACTOR
                yield Problem(("price",), f"a price between {format_decimal(low)} and {format_decimal(high)} "
                              f"(within a factor {MAX_PRICE_FACTOR} of the pool's {format_decimal(declared)})")


class FailNextTradeEvent(Event):
    """The next trade (on a pair, or any) fails the chosen way."""

    kind: ClassVar[str] = "fail_next_trade"
    example: ClassVar[str] = "{pair: WETH/USDC, mode: revert, reason: SLIPPAGE}"
    example_at: ClassVar[str] = "2d"
    live: ClassVar[bool] = True

    pair: PoolRef | None = Field(None, description="Pool whose next trade fails; any pair when omitted.")
    mode: Annotated[TradeFaultMode, Choice.of(TradeFaultMode)] = Field(
        TradeFaultMode.revert, description="How the trade fails."
    )
    reason: Annotated[str, Text(min_length=1, max_length=200)] = Field(
        "SIMULATED_FAILURE", description="Revert reason reported."
    )


class ExternalTransferEvent(Event):
    """Tokens arrive at (+) or leave (-) the strategy's vault outside its control."""

    kind: ClassVar[str] = "external_transfer"
    example: ClassVar[str] = "{token: WETH, amount: -0.5}"
    example_at: ClassVar[str] = "5d"
    live: ClassVar[bool] = True

    token: TokenRef = Field(description="A token of the universe.")
    amount: Annotated[Amount, Range(nonzero=True)] = Field(description="Signed amount in token units: + arrives, - leaves.")

    def problems(self, context: Any) -> Iterator[Problem]:
        yield from _reserve_units(self.amount, context, "amount", "an amount of", self.token)


MAX_EXTERNAL_TXS = 100
"""`external_tx.count`: transactions an operator sends at once with the runner's key."""


class ExternalTxEvent(Event):
    """Someone signs transactions with a key the runner holds, outside the runner (an
    operator using the asset manager's key): every nonce the runner cached is stale after
    it, so the runner must take its nonce from the node before signing, every time.

    ``to: self`` is a zero-value transfer to the sender (it only uses a nonce); a token
    symbol is that token's ``approve(vault, 0)`` (an operator revoking an allowance).
    """

    kind: ClassVar[str] = "external_tx"
    example: ClassVar[str] = "{from: asset_manager, to: self}"
    example_at: ClassVar[str] = "5d"
    live: ClassVar[bool] = True
    renamed: ClassVar[Any] = {"sender": "from"}

    sender: Annotated[KeyHolder, Choice.of(KeyHolder)] = Field(
        KeyHolder.asset_manager, alias="from", description="Whose key signs the transactions."
    )
    to: Annotated[str, Text(f"{SELF_TRANSFER} or a token symbol", max_length=200)] = Field(
        SELF_TRANSFER, description=f"{SELF_TRANSFER}: a zero-value transfer to the sender; a token symbol: that "
        "token's approve(vault, 0)."
    )
    count: Annotated[Int, Range(ge=1, le=MAX_EXTERNAL_TXS)] = Field(
        1, description="How many transactions are sent (consecutive nonces, one block)."
    )

    def problems(self, context: Any) -> Iterator[Problem]:
        """``to`` is the sender itself or a token of the universe."""
        tokens = context.tokens if isinstance(context, Facts) else None
        if self.to != SELF_TRANSFER and tokens is not None and self.to not in tokens:
            names = [SELF_TRANSFER, *tokens]
            yield Problem(("to",), f"{SELF_TRANSFER} or a token of the universe ({listing(list(tokens))})",
                          suggestion=closest(self.to, names))


MAX_KILL_POINT = 1_000
"""`crash: {at_random: true}` dies within this many kill points of the runner's work."""


class CrashEvent(Event):
    """The runner process dies just before the given step completes, or at an instant
    drawn from the scenario's seed: any kill point of its work (a step's end, before or
    after a node request, a write or rename of a state save) within `within` points."""

    kind: ClassVar[str] = "crash"
    shorthand: ClassVar[str | None] = "step"
    example: ClassVar[str] = "broadcast"
    example_at: ClassVar[str] = "8d"

    step: Annotated[Step, Choice.of(Step)] | None = Field(None, description="Runner step during which the process dies.")
    at_random: Bool = Field(False, description="Die at a kill point drawn from the seed instead of at a step.")
    within: Annotated[Int, Range(ge=1, le=MAX_KILL_POINT)] = Field(
        60, description="With at_random: how many kill points from now the instant is drawn among."
    )

    def problems(self, context: Any) -> Iterator[Problem]:
        if (self.step is not None) != self.at_random:
            return  # exactly one of the two
        found = "both" if self.step is not None else "nothing (key missing)"
        yield Problem(("step",), "a runner step, or at_random: true", found)


class SetParameterEvent(Event):
    """A strategy parameter is changed mid-run."""

    kind: ClassVar[str] = "set_parameter"
    example: ClassVar[str] = "{name: weights, value: {WETH: 1, stETH: 0}}"
    example_at: ClassVar[str] = "6d"
    live: ClassVar[bool] = True

    name: Annotated[str, Text(min_length=1, max_length=64)] = Field(description="Parameter name (a field of the strategy's Parameters).")
    value: PlainValue = Field(description="New value, written as in strategy.parameters.")

    def problems(self, context: Any) -> Iterator[Problem]:
        """The name must be a parameter and the value valid for it, as the run will apply it."""
        if not isinstance(context, Facts) or context.strategy is None:
            return
        from runner.strategy.parameters import ParameterError, parameters_class, with_override

        names = list(parameters_class(context.strategy).model_fields)
        if self.name not in names:
            module = context.strategy.__name__
            yield Problem(("name",), f"a parameter of {module} ({listing(names)})",
                          suggestion=closest(self.name, names))
            return
        if context.parameters is None:
            return
        try:
            with_override(context.parameters, self.name, self.value, assets=_assets(context))
        except ParameterError as exc:
            for issue in exc.issues:
                yield Problem(("value", *issue.loc[1:]), issue.expected, issue.found, issue.suggestion)


class NoteEvent(Event):
    """Free text shown in the run log at that time; changes nothing."""

    kind: ClassVar[str] = "note"
    shorthand: ClassVar[str | None] = "text"
    example: ClassVar[str] = '"weights moved fully to WETH"'
    example_at: ClassVar[str] = "7d"
    live: ClassVar[bool] = True

    text: Annotated[str, Text(min_length=1, max_length=1_000)] = Field(description="The note.")


_NODE_BACKENDS = frozenset({BackendName.anvil, BackendName.anvil_fork, BackendName.revm})


class MempoolEvent(Event):
    """The node's block production, as the runner's transactions experience it.

    ``stall``: blocks stop; the runner's broadcasts stay pending. ``resume``: a block
    includes everything pending. ``drop``: pending transactions are dropped from the
    mempool (anvil_dropTransaction), as a node that lost them would.
    """

    kind: ClassVar[str] = "mempool"
    shorthand: ClassVar[str | None] = "action"
    example: ClassVar[str] = "stall"
    example_at: ClassVar[str] = "9d"
    backends: ClassVar[frozenset[BackendName] | None] = _NODE_BACKENDS

    action: Annotated[MempoolAction, Choice.of(MempoolAction)] = Field(description="What the node does.")


class NodeFaultEvent(Event):
    """The node answers the runner's next ``calls`` requests with errors or not at all."""

    kind: ClassVar[str] = "node_fault"
    example: ClassVar[str] = "{mode: timeout, calls: 2}"
    example_at: ClassVar[str] = "8d"

    mode: Annotated[NodeFaultMode, Choice.of(NodeFaultMode)] = Field(
        NodeFaultMode.error, description="Error responses or timeouts."
    )
    calls: Annotated[Int, Range(ge=1, le=MAX_NODE_CALLS)] = Field(1, description="How many of the runner's node requests fail.")
    method: Annotated[NodeMethod, Choice.of(FAULTABLE)] | None = Field(
        None, description="Only requests of this kind fail; any kind when omitted."
    )


MAX_LAG_BLOCKS = 256
"""A lagging replica is at most this many blocks behind (what a node keeps state for)."""


class WireFaultEvent(Event):
    """The real transport between the runner's process and its node breaks, for the
    runner's requests until the end of the instant (the wire proxy of harness/wire).

    ``mode`` breaks the next ``calls`` requests (default 1) as networks and load balancers
    do: resets before or after forwarding, timeouts, slow answers, JSON-RPC errors, HTTP
    5xx and 429, truncated bodies, a broadcast delivered twice. ``lag: N`` sends them to a
    replica N blocks behind the head (stale block number, nonces, balances, receipts):
    the next ``calls`` requests, or all of the instant's when omitted. Either aimed at one
    kind of request with ``method``. Needs the runner in its own process (anvil).
    """

    kind: ClassVar[str] = "wire_fault"
    example: ClassVar[str] = "{lag: 1, method: get_nonce, calls: 1}"
    example_at: ClassVar[str] = "8d"
    backends: ClassVar[frozenset[BackendName] | None] = frozenset(PROCESS_BACKENDS)
    json_rule: ClassVar[Any] = {"oneOf": [{"required": ["mode"]}, {"required": ["lag"]}]}

    mode: Annotated[WireFault, Choice.of(WireFault)] | None = Field(
        None, description="How the transport fails the requests; exactly one of mode or lag."
    )
    lag: Annotated[Int, Range(ge=1, le=MAX_LAG_BLOCKS)] | None = Field(
        None, description="Blocks the replica answering the requests is behind the head; exactly one of mode or lag."
    )
    calls: Annotated[Int, Range(ge=1, le=MAX_NODE_CALLS)] | None = Field(
        None, description="How many of the runner's requests are hit: 1 for a mode, every one of the instant for a lag."
    )
    method: Annotated[NodeMethod, Choice.of(FAULTABLE)] | None = Field(
        None, description="Only requests of this kind are hit; any kind when omitted."
    )

    def problems(self, context: Any) -> Iterator[Problem]:
        if (self.mode is None) == (self.lag is None):
            yield Problem((), "exactly one of mode or lag", "both" if self.mode is not None else "neither")
        elif self.lag is not None and self.method is not None and self.method not in LAGGABLE:
            yield Problem(("method",), f"a request a replica answers from its view ({listing(list(LAGGABLE))})")
        elif self.mode == WireFault.duplicate_send and self.method not in (None, NodeMethod.send_raw_transaction):
            yield Problem(("method",), f"{NodeMethod.send_raw_transaction} (only a broadcast is delivered twice)")


class NodeRestartEvent(Event):
    """The node process restarts, keeping its chain through a state dump."""

    kind: ClassVar[str] = "node_restart"
    shorthand: ClassVar[str | None] = "reason"
    example: ClassVar[str] = "{}"
    example_at: ClassVar[str] = "9d"
    backends: ClassVar[frozenset[BackendName] | None] = _NODE_BACKENDS

    reason: Annotated[str, Text(max_length=200)] = Field("maintenance", description="Why, for the journal.")


class ReorgEvent(Event):
    """The chain goes back to how it was at an earlier instant (before that instant's events).

    Blocks after it vanish, with the runner's confirmed trades in them: what the runner
    does about trades that no longer exist is the point of such a scenario.
    """

    kind: ClassVar[str] = "reorg"
    shorthand: ClassVar[str | None] = "to"
    example: ClassVar[str] = "6d"
    example_at: ClassVar[str] = "8d"

    to: SinceStart = Field(
        description="The earlier instant to go back to: a duration after clock.start or a datetime."
    )

    def problems(self, context: Any) -> Iterator[Problem]:
        """A reorg can only go back in time."""
        if self.to >= self.at:
            yield Problem(("to",), f"an instant before the reorg itself ({q.format_duration(self.at)})")


# -- expectations ----------------------------------------------------------------------------


class Expectation(Entry):
    """Something that must hold at a given time (``end`` = clock.until); one key names the kind."""

    kinds: ClassVar[dict[str, type[Entry]]] = {}
    noun: ClassVar[str] = "expectation kind"

    at: WhenOrEnd = Field(description="When to check: a duration after clock.start, an absolute datetime, or end.")


class PositionExpectation(Expectation):
    """The state of the position on a pair."""

    kind: ClassVar[str] = "position"
    example: ClassVar[str] = "{pair: WETH/USDC, state: frozen}"
    example_at: ClassVar[str] = "end"
    live: ClassVar[bool] = True

    pair: PoolRef = Field(description="A pool of the universe, as declared.")
    state: Annotated[PositionState, Choice.of(PositionState)] | None = Field(None, description="Position state.")
    closed_by: Annotated[ClosedBy, Choice.of(ClosedBy)] | None = Field(None, description="What closed the position.")


class AccountingExpectation(Expectation):
    """The outcome of the accounting check."""

    kind: ClassVar[str] = "accounting"
    example: ClassVar[str] = "{outcome: mismatch, asset: WETH}"
    example_at: ClassVar[str] = "5d"
    live: ClassVar[bool] = True

    outcome: Annotated[Verdict, Choice.of(Verdict)] = Field(description="Accounting check outcome.")
    asset: TokenRef | None = Field(None, description="Token the outcome is about.")


class TradeExpectation(Expectation):
    """The status of the latest trade (on a pair, or any)."""

    kind: ClassVar[str] = "trade"
    example: ClassVar[str] = "{pair: WETH/USDC, status: failed, reason: SLIPPAGE}"
    example_at: ClassVar[str] = "2d"
    live: ClassVar[bool] = True

    pair: PoolRef | None = Field(None, description="Pool traded; any when omitted.")
    status: Annotated[TradeStatus, Choice.of(TradeStatus)] = Field(description="Trade status.")
    reason: Annotated[str, Text(max_length=200)] | None = Field(None, description="Substring of the failure reason.")


class NavExpectation(Expectation):
    """Net asset value within bounds, in reserve currency."""

    kind: ClassVar[str] = "nav"
    example: ClassVar[str] = "{min: 1_000}"
    example_at: ClassVar[str] = "end"
    live: ClassVar[bool] = True
    json_rule: ClassVar[Any] = {"anyOf": [{"required": ["min"]}, {"required": ["max"]}]}

    min: Amount | None = Field(None, description="Lowest acceptable NAV.")
    max: Amount | None = Field(None, description="Highest acceptable NAV.")

    def problems(self, context: Any) -> Iterator[Problem]:
        """An empty range can never hold; say so now rather than after a long run."""
        if self.min is None and self.max is None:
            yield Problem((), "at least one of min or max", "neither")
        elif self.min is not None and self.max is not None and self.max < self.min:
            yield Problem(("max",), f"an amount >= min ({self.min})")


class BalanceUpdateExpectation(Expectation):
    """A balance update of the given cause was recorded."""

    kind: ClassVar[str] = "balance_update"
    example: ClassVar[str] = "{cause: deposit}"
    example_at: ClassVar[str] = "0s"
    live: ClassVar[bool] = True

    cause: Annotated[BalanceUpdateCause, Choice.of(BalanceUpdateCause)] = Field(description="Cause of the balance update.")
    asset: TokenRef | None = Field(None, description="Token updated.")


class WithdrawalExpectation(Expectation):
    """A withdraw event at this instant ended as stated: paid from cash, queued by the
    ERC-4626 vault (more than its cash), or refused on chain (the legacy vault)."""

    kind: ClassVar[str] = "withdrawal"
    shorthand: ClassVar[str | None] = "status"
    example: ClassVar[str] = "{status: paid}"
    example_at: ClassVar[str] = "4d"

    status: Annotated[WithdrawalStatus, Choice.of(WithdrawalStatus)] = Field(
        description="paid, queued or failed.")
    by: InvestorRef | None = Field(None, description="Investor redeeming; any investor when omitted.")


class ErrorExpectation(Expectation):
    """The run is expected to stop with an error whose message contains the text."""

    kind: ClassVar[str] = "error"
    shorthand: ClassVar[str | None] = "contains"
    example: ClassVar[str] = '"SIMULATED_FAILURE"'
    example_at: ClassVar[str] = "end"

    contains: Annotated[str, Text(min_length=1, max_length=200)] = Field(description="Substring of the error message.")


class ViolationExpectation(Expectation):
    """An invariant is expected to fail at this instant: the scenario plants what it catches."""

    kind: ClassVar[str] = "violation"
    shorthand: ClassVar[str | None] = "invariant"
    example: ClassVar[str] = "trades-match-chain"
    example_at: ClassVar[str] = "end"

    invariant: Annotated[InvariantName, Choice.of(InvariantName)] = Field(description="The invariant's name.")


# -- invariants ----------------------------------------------------------------------------


class SkippedInvariant(StrictModel):
    """An invariant a scenario opts out of, and why (the reason is shown in every report)."""

    name: Annotated[InvariantName, Choice.of(InvariantName)] = Field(description="The invariant's name.")
    reason: Annotated[str, Text(min_length=1, max_length=200)] = Field(description="Why it does not apply here.")


class InvariantsSpec(StrictModel):
    """Invariants are checked after every event, tick and trigger check; skipping one needs a reason."""

    skip: Annotated[tuple[SkippedInvariant, ...], Field(max_length=len(InvariantName)), AsTuple] = Field(
        (), description="Invariants not checked in this scenario."
    )

    def problems(self, context: Any) -> Iterator[Problem]:
        first: dict[str, int] = {}
        for index, item in enumerate(self.skip):
            if item.name in first:
                yield Problem(("skip", index, "name"), "each invariant at most once",
                              f"{str(item.name)!r} again (first as skip[{first[item.name]}])")
            first.setdefault(item.name, index)


# -- the scenario ----------------------------------------------------------------------------


class Scenario(StrictModel):
    """A world (tokens, pools, a strategy) and a timeline of events and expectations."""

    name: Annotated[str, Text(min_length=1, max_length=200)] = Field(description="Scenario name, shown in reports.")
    description: Annotated[str, Text(max_length=10_000)] = Field(description="What the scenario exercises and why.")
    seed: Annotated[Int, Range(ge=0)] = Field(0, description="Seed for every random choice of the run.")
    clock: ClockSpec = Field(description="Simulated time.")
    chain: ChainSpec = Field(ChainSpec(), description="Chain backend.")
    universe: UniverseSpec = Field(description="Tokens and pools.")
    strategy: StrategySpec = Field(description="Strategy under test.")
    accounting: AccountingSpec = Field(AccountingSpec(), description="Accounting check settings.")
    vault: VaultSpec = Field(VaultSpec(), description="The strategy vault.")
    invariants: InvariantsSpec = Field(InvariantsSpec(), description="Invariant settings.")
    investors: Annotated[tuple[Name, ...], Field(min_length=1, max_length=MAX_INVESTORS), AsTuple] = Field(
        ("alice",), description="Names of the investor accounts; events' by must name one."
    )
    timeline: Annotated[tuple[Annotated[Event, Kinds(Event)], ...], Field(max_length=MAX_ENTRIES), AsTuple] = Field(
        (), description="Events in file order; the engine orders them stably by time."
    )
    expect: Annotated[tuple[Annotated[Expectation, Kinds(Expectation)], ...], Field(max_length=MAX_ENTRIES), AsTuple] = Field(
        (), description="Expectations checked during the run."
    )

    _source: SourceInfo = PrivateAttr(default=SourceInfo(path="<memory>", sha256=""))

    @property
    def source(self) -> SourceInfo:
        """The file this scenario was loaded from (path as given, sha256 of its bytes)."""
        return self._source

    @model_validator(mode="wrap")
    @classmethod
    def _take_source(cls, data: Any, handler: Any, info: ValidationInfo) -> Scenario:
        """The loader's facts name the file; ``Scenario(source=...)`` (a copy) keeps it."""
        source = info.context.source if isinstance(info.context, Facts) else None
        if isinstance(data, dict) and isinstance(data.get("source"), SourceInfo):
            data = dict(data)
            source = data.pop("source")
        scenario: Scenario = handler(data)
        if source is not None:
            scenario._source = source
        return scenario

    def problems(self, context: Any) -> Iterator[Problem]:
        yield from self._vault_problems()
        yield from self._adopted_problems()
        seen: dict[str, int] = {}
        for index, name in enumerate(self.investors):
            if name in seen:
                yield Problem(("investors", index), "each item at most once", f"{name!r} again (first as investors[{seen[name]}])")
            seen.setdefault(name, index)


    def _adopted_problems(self) -> Iterator[Problem]:
        """Adopted contracts exist only on a chain that has them, and an adopted vault is
        a StrategyVault4626 (the runner trades it through swapV2/swapV3)."""
        if self.universe.adopt is None:
            return
        if self.vault.kind != VaultKind.erc4626:
            yield Problem(("vault", "kind"), "erc4626 (an adopted vault is an ERC-4626 strategy vault)",
                          str(self.vault.kind))
        if self.chain.backend not in (BackendName.anvil_fork, BackendName.anvil):
            yield Problem(("universe", "adopt"), "a chain that holds the contracts: backend anvil-fork (fork_url and "
                          "fork_block) or anvil (a node that has them, --rpc URL)", f"backend {self.chain.backend}")

    def _vault_problems(self) -> Iterator[Problem]:
        """The legacy vault trades through the fixture Router only; a real vault trades
        one route through one router, so a route may not mix exchanges."""
        if self.vault.kind == VaultKind.legacy:
            for index, pool in enumerate(self.universe.pools):
                if pool.dex != Dex.fixture:
                    yield Problem(("vault", "kind"), f"erc4626 (pools[{index}] is on {pool.dex}, which the legacy "
                                  "vault cannot trade)", "legacy")
                    return
            return
        for symbol, dexes in _route_dexes(self.universe).items():
            if len(set(dexes)) > 1:
                yield Problem(("universe", "tokens", symbol), "a route to the reserve on one exchange",
                              f"a route through {' then '.join(str(d) for d in dexes)}")


def backend_problems(scenario: Scenario, backend: BackendName | str) -> Iterator[Problem]:
    """Events the backend cannot carry out (a mempool needs a node), at their kind keys."""
    for index, event in enumerate(scenario.timeline):
        if event.backends is not None and backend not in event.backends:
            names = "/".join(sorted(str(b) for b in event.backends))
            yield Problem(
                ("timeline", index, event.kind),
                f"backend {names} (set chain: {{backend: anvil}} or run with --backend anvil)",
                f"backend {backend}",
            )


EVENT_TYPES: tuple[type[Event], ...] = tuple(Event.kinds.values())  # type: ignore[arg-type]
EXPECTATION_TYPES: tuple[type[Expectation], ...] = tuple(Expectation.kinds.values())  # type: ignore[arg-type]


# -- facts: what cross references are checked against ----------------------------------------

_ADAPTERS: dict[tuple[type, str], TypeAdapter[Any]] = {}


def _field_value(model: type[StrictModel], name: str, data: Any, facts: Facts) -> Any:
    """One field validated alone as the model would, or None when absent or invalid."""
    from runner.strategy.validation import field_type

    if not isinstance(data, dict) or name not in data:
        field = model.model_fields[name]
        return None if field.is_required() else field.get_default(call_default_factory=True)
    key = (model, name)
    if key not in _ADAPTERS:
        _ADAPTERS[key] = TypeAdapter(field_type(model.model_fields[name]))
    try:
        return _ADAPTERS[key].validate_python(data[name], context=facts)
    except ValidationError:
        return None


def gather_facts(data: Any, facts: Facts) -> Facts:
    """Fill ``facts`` from the raw document, each fact validated as its field is."""
    root = data if isinstance(data, dict) else {}
    clock = root.get("clock")
    facts.start = _field_value(ClockSpec, "start", clock, facts) if isinstance(clock, dict) else None
    facts.until = _field_value(ClockSpec, "until", clock, facts) if isinstance(clock, dict) else None
    universe = root.get("universe")
    if isinstance(universe, dict):
        facts.tokens = _field_value(UniverseSpec, "tokens", universe, facts) if "tokens" in universe else None
        facts.reserve = _field_value(UniverseSpec, "reserve", universe, facts) if "reserve" in universe else None
        facts.pools = _field_value(UniverseSpec, "pools", universe, facts) if "pools" in universe else None
    facts.investors = _field_value(Scenario, "investors", root, facts)
    chain = root.get("chain")
    facts.backend = _field_value(ChainSpec, "backend", chain if isinstance(chain, dict) else {}, facts)
    strategy = root.get("strategy")
    if isinstance(strategy, dict):
        module = _field_value(StrategySpec, "module", strategy, facts) if "module" in strategy else None
        if module is not None:
            _import_strategy(module, strategy.get("parameters", {}), facts)
    return facts


def _import_strategy(module: str, parameters: Any, facts: Facts) -> None:
    """Import the module exactly as the run does; validate its parameters if it loads."""
    from runner.strategy.loader import StrategyLoadError, load_strategy
    from runner.strategy.parameters import ParameterError, parameters_class, validate_parameters

    try:
        facts.strategy = load_strategy(module)
    except StrategyLoadError as exc:
        facts.strategy_error = exc.reason
        return
    if isinstance(parameters, dict):
        try:
            facts.parameters = validate_parameters(parameters_class(facts.strategy), parameters, assets=_assets(facts))
        except ParameterError:
            facts.parameters = None


def _names() -> list[str]:
    """Exported names: the model's classes (every registered kind included) and constants."""
    classes = [
        name for name, value in globals().items()
        if isinstance(value, type) and issubclass(value, StrictModel) and value.__module__ == __name__
    ]
    constants = [n for n in globals() if n.isupper() and not n.startswith("_") and n not in _IMPORTED]
    return sorted({*classes, *constants, "CrashStep", "SourceInfo", "Facts", "backend_problems", "gather_facts"})


__all__ = _names()
