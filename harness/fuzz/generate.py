"""Whole scenarios drawn from a seed: a universe, a strategy and a timeline of every kind.

    run seed --Draw--> universe (tokens, decimals, rebasing, fee-on-transfer, pools,
                       prices, depths, fees), investors, strategy and its parameters,
                       accounting policy, clock
             --one generator per event kind, chosen by weight--> timeline
             --emit--> YAML text --parse_scenario_text--> a validated Scenario

Generation is table-driven by event kind: `@generates("deposit")` registers the function
that draws a deposit's body, with its default weight, like the model registers its
kinds. A kind the model has but nobody registered a generator for is listed by
`ungenerated_kinds()` (and `harness fuzz --list-kinds`), never silently drawn wrong.
Every bound is the model's (its named limits, or the field's own `Range`), so what is
drawn always validates: a draw the model refuses is a bug here, reported as
`GenerationError` with the scenario text.

The output is a plain document (dicts, lists, str, int, Decimal, bool), the same shape as
a scenario file, so the shrinker edits the same thing `harness run` reads.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal, localcontext
from typing import Any

from harness.errors import HarnessError
from harness.fuzz.bounds import clamp, field_choices, field_range
from harness.fuzz.rng import Draw
from harness.scenario.model import (
    MAX_DECIMALS,
    MAX_NODE_CALLS,
    MAX_PRICE_FACTOR,
    MAX_TOKENS,
    MAX_UNITS,
    MIN_POOL_UNITS,
    AccountingSpec,
    CrashEvent,
    Event,
    ExternalTxEvent,
    FailNextTradeEvent,
    InterestEvent,
    MempoolEvent,
    NodeFaultEvent,
    PoolSpec,
    PriceShockEvent,
    RebaseEvent,
    TokenSpec,
    VaultSpec,
    WireFaultEvent,
    WithdrawEvent,
)
from harness.scenario.quantities import format_duration
from harness.vocabulary import BackendName
from harness.wire.methods import LAGGABLE
from runner.strategy.validation import format_decimal
from runner.universe import V2_FEE, V3_FEE_TIERS, Dex, VaultKind

Doc = dict[str, Any]
Body = Any  # a kind's value: a mapping of its keys, or its shorthand's scalar


class GenerationError(HarnessError):
    """A drawn scenario the model refuses: a bug in a generator, with the text to see it."""


# -- what a generator sees ----------------------------------------------------------------


@dataclass(frozen=True)
class WorldView:
    """The drawn world, as an event generator needs it (read-only)."""

    reserve: str
    tokens: Mapping[str, Doc]  # symbol -> TokenSpec document
    pools: Sequence[Doc]  # PoolSpec documents
    prices: Mapping[str, Decimal]  # symbol -> price in reserve units (the reserve: 1)
    investors: tuple[str, ...]
    strategy: str
    parameters: Doc
    backend: str
    cycle: timedelta
    until: timedelta

    @property
    def tradeable(self) -> list[str]:
        return [s for s in self.tokens if s != self.reserve]

    @property
    def rebasing(self) -> list[str]:
        return [s for s, t in self.tokens.items() if t.get("rebasing")]

    @property
    def pairs(self) -> list[str]:
        return [str(p["pair"]) for p in self.pools]


@dataclass(frozen=True)
class KindGenerator:
    """How one event kind is drawn: its body given the world and the instant, or None
    when the world has nothing for it (a rebase needs a rebasing token)."""

    kind: str
    weight: int
    draw: Callable[[Draw, WorldView, timedelta], Body | None]


GENERATORS: dict[str, KindGenerator] = {}


def generates(kind: str, weight: int) -> Callable[[Callable[[Draw, WorldView, timedelta], Body | None]],
                                                   Callable[[Draw, WorldView, timedelta], Body | None]]:
    """Register the generator of an event kind, with its default weight."""

    def register(fn: Callable[[Draw, WorldView, timedelta], Body | None]) -> Callable[[Draw, WorldView, timedelta], Body | None]:
        if kind not in Event.kinds:
            raise TypeError(f"a generator for {kind!r}, which is no event kind of the model")
        if kind in GENERATORS:
            raise TypeError(f"two generators for {kind!r}")
        GENERATORS[kind] = KindGenerator(kind, weight, fn)
        return fn

    return register


def ungenerated_kinds() -> list[str]:
    """Event kinds of the model that no generator draws yet."""
    return sorted(set(Event.kinds) - set(GENERATORS))


def runnable_on(kind: str, backend: str) -> bool:
    """Whether the backend can carry out the kind (a mempool needs a node)."""
    backends = Event.kinds[kind].backends  # type: ignore[attr-defined]
    return backends is None or backend in backends


# -- formatting helpers -------------------------------------------------------------------


def pct(value: Decimal, *, sign: bool = False) -> str:
    """A percentage as written in scenarios: Decimal("1.5") -> "1.5%" ("+1.5%" with sign)."""
    text = format_decimal(value)
    if sign and value > 0:
        text = "+" + text
    return text + "%"


def _significant(value: Decimal, digits: int = 6) -> Decimal:
    """At most `digits` significant digits: readable prices, exact decimals."""
    if value == 0:
        return value
    return value.scaleb(-value.adjusted()).quantize(Decimal(1).scaleb(-(digits - 1))).scaleb(value.adjusted()).normalize()


def _percent_of(model: type[Any], name: str, value: Decimal) -> Decimal:
    """A drawn percentage (in percent units) kept inside the field's fraction bounds."""
    return clamp(value / 100, field_range(model, name), Decimal("0.0001")) * 100


def _units(amount: Decimal, decimals: int) -> Decimal:
    """An amount kept to 1..MAX_UNITS base units of a token of `decimals`."""
    with localcontext() as ctx:
        # 2**96 base units are 29 digits: quantizing to one base unit needs more than the
        # default 28 digits of precision (a 24-decimal token's 10**5 units raised here)
        ctx.prec = 2 * (MAX_DECIMALS + 30)
        scale = Decimal(10) ** decimals
        low, high = 1 / scale, MAX_UNITS / scale
        return min(max(amount, low), high).quantize(1 / scale)


def _amount(value: Decimal, decimals: int, digits: int = 3) -> Decimal:
    """A value in token units, rounded to `digits` significant digits and within the
    token's base-unit bounds."""
    rounded = _significant(value, digits)
    places = min(decimals, max(0, -rounded.as_tuple().exponent))  # type: ignore[operator]
    return _units(rounded.quantize(Decimal(1).scaleb(-places)) if places else rounded.to_integral_value(), decimals)


# -- the universe -------------------------------------------------------------------------

RESERVE_SYMBOLS = {6: "USDC", 18: "DAI", 2: "EURS", 8: "WUSD"}
"""The reserve's symbol by its decimals (any other decimals: RSV)."""
SYMBOLS = ("WETH", "WBTC", "stETH", "LINK", "UNI", "AAVE", "FOT", "MKR", "CRV", "SNX")
INVESTORS = ("alice", "bob", "carol", "dave")


class WeightsError(HarnessError):
    """A weights file that cannot be used: one line, naming the key."""


@dataclass(frozen=True)
class Weights:
    """Every weight and chance of the generator, with realistic defaults; `--weights FILE`
    overrides any of them (a YAML mapping of these keys; events and strategies merge with
    the defaults, the other tables replace them). Chances are percents."""

    events: Mapping[str, int] = field(default_factory=dict)
    strategies: Mapping[str, int] = field(default_factory=dict)
    reserve_decimals: Mapping[int, int] = field(default_factory=lambda: {6: 6, 18: 3, 2: 1})
    token_decimals: Mapping[int, int] = field(default_factory=lambda: {18: 8, 8: 3, 6: 2, 12: 1, 0: 1, 24: 1})
    on_mismatch: Mapping[str, int] = field(default_factory=lambda: {"report": 5, "correct": 3, "abort": 2})
    # The strategy vault; any but legacy trades on the real DEXes, each route's exchange
    # drawn from `dex` (a legacy vault trades the fixture AMM only: the model's rule).
    # erc4626 twice as often: the legacy vault's stale NAV fails fair-shares by design.
    vault: Mapping[str, int] = field(default_factory=lambda: {"legacy": 1, "erc4626": 2})
    dex: Mapping[str, int] = field(default_factory=lambda: {"fixture": 1, "uniswap-v2": 2, "uniswap-v3": 3})
    rebasing: int = 20
    transfer_fee: int = 8
    indirect: int = 20  # a token priced and routed through another token, not the reserve
    second_route: int = 20  # an extra pool between two tokens
    trigger_checks: int = 15
    investors: int = 3
    tokens: int = 3
    events_per_cycle: tuple[int, int] = (1, 3)

    @classmethod
    def names(cls) -> list[str]:
        return list(cls.__dataclass_fields__)


def load_weights(path: str) -> Weights:
    """A weights file (YAML or JSON) read into `Weights`; every problem is a WeightsError."""
    import yaml

    try:
        with open(path, encoding="utf-8") as handle:
            data = yaml.safe_load(handle)
    except OSError as exc:
        raise WeightsError(f"{path}: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise WeightsError(f"{path}: not YAML ({str(exc).splitlines()[0]})") from None
    return weights_from(data or {}, path)


def weights_from(data: Any, where: str = "weights") -> Weights:
    """`Weights` from a plain mapping, each value checked (non-negative integers)."""
    from runner.strategy.validation import closest

    if not isinstance(data, Mapping):
        raise WeightsError(f"{where}: expected a mapping of {', '.join(Weights.names())}")
    values: dict[str, Any] = {}
    for key, value in data.items():
        if key not in Weights.names():
            hint = closest(str(key), Weights.names())
            raise WeightsError(f"{where}: unknown key {key!r}" + (f" (did you mean {hint!r}?)" if hint else ""))
        if key == "events_per_cycle":
            if not (isinstance(value, list) and len(value) == 2 and all(_count(v) for v in value) and value[0] <= value[1]):
                raise WeightsError(f"{where}: events_per_cycle: expected [low, high], two integers >= 0")
            values[key] = (value[0], value[1])
        elif isinstance(value, Mapping):
            table: dict[Any, int] = {}
            for name, weight in value.items():
                if not _count(weight):
                    raise WeightsError(f"{where}: {key}.{name}: expected an integer weight >= 0, found {weight!r}")
                table[name] = weight
            _check_table(key, table, where)
            values[key] = table
        elif _count(value) and key in ("rebasing", "transfer_fee", "indirect", "second_route", "trigger_checks",
                                           "investors", "tokens"):
            values[key] = value
        else:
            raise WeightsError(f"{where}: {key}: expected {'a mapping of weights' if key in _TABLES else 'an integer >= 0'}, found {value!r}")
    defaults = Weights()
    values["events"] = {**defaults.events, **values.get("events", {})}
    values["strategies"] = {**defaults.strategies, **values.get("strategies", {})}
    return Weights(**values)


_TABLES = ("events", "strategies", "reserve_decimals", "token_decimals", "on_mismatch", "vault", "dex")


_CHOICES: dict[str, tuple[type[Any], str]] = {
    "on_mismatch": (AccountingSpec, "on_mismatch"), "vault": (VaultSpec, "kind"), "dex": (PoolSpec, "dex")}
"""Weight tables whose keys are a model field's words."""


def _count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _check_table(key: str, table: Mapping[Any, int], where: str) -> None:
    from runner.strategy.validation import closest

    if key == "events":
        for name in table:
            if name not in Event.kinds:
                hint = closest(str(name), list(Event.kinds))
                raise WeightsError(f"{where}: events: no event kind {name!r}" + (f" (did you mean {hint!r}?)" if hint else ""))
    elif key in ("reserve_decimals", "token_decimals"):
        for decimals in table:
            if not (isinstance(decimals, int) and 0 <= decimals <= MAX_DECIMALS):
                raise WeightsError(f"{where}: {key}: expected decimals 0 to {MAX_DECIMALS}, found {decimals!r}")
    elif key in _CHOICES:
        model, name_in_model = _CHOICES[key]
        allowed = field_choices(model, name_in_model)
        for name in table:
            if name not in allowed:
                raise WeightsError(f"{where}: {key}: expected one of {', '.join(allowed)}, found {name!r}")
    if not any(table.values()) and key != "events":
        raise WeightsError(f"{where}: {key}: every weight is 0")


@dataclass(frozen=True)
class FuzzConfig:
    """What a campaign draws and how much of it. Everything a run does follows from this
    and the run's seed."""

    backend: str = BackendName.revm.value
    until: timedelta = timedelta(days=10)
    cycle: timedelta = timedelta(days=1)
    events: tuple[str, ...] | None = None  # the kinds drawn (None: every generated kind)
    weights: Weights = field(default_factory=Weights)

    def kind_weights(self) -> dict[str, int]:
        chosen = set(self.events) if self.events is not None else set(GENERATORS)
        weights = {k: self.weights.events.get(k, g.weight) for k, g in GENERATORS.items() if k in chosen}
        return {k: w for k, w in sorted(weights.items()) if w > 0 and runnable_on(k, self.backend)}


def _pool_depth_bounds(base_decimals: int, quote_decimals: int, price: Decimal) -> tuple[Decimal, Decimal]:
    """The depths (quote units) at which both reserves fit MIN_POOL_UNITS..MAX_UNITS, as
    PoolSpec checks it."""
    quote_scale, base_scale = Decimal(10) ** quote_decimals, Decimal(10) ** base_decimals
    low = max(MIN_POOL_UNITS / quote_scale, MIN_POOL_UNITS * price / base_scale)
    high = min(MAX_UNITS / quote_scale, MAX_UNITS * price / base_scale)
    return low, high


def _universe(d: Draw, config: FuzzConfig) -> tuple[Doc, dict[str, Decimal]]:
    w = config.weights
    reserve_decimals = int(d.weighted({str(k): v for k, v in w.reserve_decimals.items()}))
    reserve = RESERVE_SYMBOLS.get(reserve_decimals, "RSV")
    count = d.integer(1, max(1, min(w.tokens, MAX_TOKENS - 1, len(SYMBOLS))))
    symbols = d.sample(SYMBOLS, count)
    tokens: dict[str, Doc] = {reserve: {"decimals": reserve_decimals}}
    prices: dict[str, Decimal] = {reserve: Decimal(1)}
    fee_range = field_range(TokenSpec, "transfer_fee")
    for symbol in symbols:
        decimals = int(d.weighted({str(k): v for k, v in w.token_decimals.items()}))
        spec: Doc = {"decimals": decimals}
        if (symbol == "stETH" and w.rebasing) or d.chance(w.rebasing):
            spec["rebasing"] = True
        # The world's rebasing token takes no transfer fee (deployment reverts): one or the other.
        elif (symbol == "FOT" and w.transfer_fee) or d.chance(w.transfer_fee):
            spec["transfer_fee"] = pct(clamp(d.decimal(Decimal("0.001"), Decimal("0.02"), 3), fee_range,
                                             Decimal("0.001")) * 100)
        tokens[symbol] = spec
        prices[symbol] = d.magnitude(Decimal("0.05"), Decimal("50000"))
    pools: list[Doc] = []
    fee_bounds = field_range(PoolSpec, "fee")
    routed = [reserve]
    for symbol in symbols:
        quote = reserve if len(routed) == 1 or not d.chance(w.indirect) else d.choice(routed[1:])
        if not _poolable(tokens, prices, symbol, quote):  # e.g. a 24-decimal token against a 0-decimal one
            quote = reserve
        pools.append(_pool(d, symbol, quote, tokens, prices, fee_bounds))
        routed.append(symbol)
    if len(symbols) >= 2 and d.chance(w.second_route):  # a second route between two tokens
        a, b = d.sample(symbols, 2)
        if not any(p["pair"] in (f"{a}/{b}", f"{b}/{a}") for p in pools) and _poolable(tokens, prices, a, b):
            pools.append(_pool(d, a, b, tokens, prices, fee_bounds))
    return {"reserve": reserve, "tokens": tokens, "pools": pools}, prices


def _poolable(tokens: Mapping[str, Doc], prices: Mapping[str, Decimal], base: str, quote: str) -> bool:
    """Whether some depth fits both reserves of a base/quote pool in PoolSpec's bounds. A
    pool against the reserve always does (the prices drawn are bounded); one between two
    tokens of far-apart decimals may not, and PoolSpec would refuse the document."""
    low, high = _pool_depth_bounds(tokens[base]["decimals"], tokens[quote]["decimals"],
                                   _significant(prices[base] / prices[quote]))
    return low * 2 <= high / 2


def _pool(d: Draw, base: str, quote: str, tokens: Mapping[str, Doc], prices: Mapping[str, Decimal],
          fee_bounds: Any) -> Doc:
    price = _significant(prices[base] / prices[quote])
    value = d.magnitude(Decimal(200_000), Decimal(5_000_000))  # reserve-currency value of the quote side
    depth = _significant(value / prices[quote], 3)
    low, high = _pool_depth_bounds(tokens[base]["decimals"], tokens[quote]["decimals"], price)
    depth = min(max(depth, _significant(low * 2, 3)), _significant(high / 2, 3))
    fee = clamp(Decimal(d.choice(("0.05", "0.3", "0.3", "1"))) / 100, fee_bounds, Decimal("0.0001"))
    return {"pair": f"{base}/{quote}", "price": price, "depth": depth, "fee": pct(fee * 100)}


# -- the vault and the exchanges ------------------------------------------------------------

V3_REFUSED = ("rebasing", "transfer_fee")
"""Token features no Uniswap v3 pool may hold (the model's rule: a v3 pool refuses a payment
short of the amount swapped)."""


def _venues(d: Draw, config: FuzzConfig, universe: Doc) -> tuple[str, Doc]:
    """The vault's kind and, for a vault on the real protocols, each pool's exchange.

    One exchange per route, as the model requires (a real vault trades a route through one
    router): a pool quoted in the reserve starts a route and draws its exchange, a pool
    quoted in another token continues that token's route on the same exchange. A route
    holding a rebasing or fee-on-transfer token is never drawn on Uniswap v3. Uniswap v2
    pools charge its one fee (0.3%); a v3 pool keeps the drawn fee, which is one of v3's
    tiers (0.05%, 0.3%, 1%). The extra pool between two tokens (`second_route`) stays only
    when both tokens' routes are on one exchange. Drawn from a stream of its own: a run
    that draws the legacy vault is the document it was before vaults were drawn."""
    kind = d.weighted(dict(config.weights.vault))
    reserve, tokens = universe["reserve"], universe["tokens"]
    if kind == VaultKind.legacy:
        return VaultKind.legacy.value, universe
    root: dict[str, str] = {}  # token -> the first token of its route (the one quoted in the reserve)
    members: dict[str, list[str]] = {}
    extra: list[int] = []
    for index, pool in enumerate(universe["pools"]):
        base, quote = str(pool["pair"]).split("/")
        if base in root:  # the second route: both tokens already have theirs
            extra.append(index)
            continue
        root[base] = base if quote == reserve else root[quote]
        members.setdefault(root[base], []).append(base)
    dex_of: dict[str, str] = {}
    for first, route in members.items():
        weights = dict(config.weights.dex)
        if any(tokens[t].get(feature) for t in route for feature in V3_REFUSED):
            weights.pop(Dex.uniswap_v3.value, None)
        dex_of[first] = d.weighted(weights) if any(weights.values()) else Dex.fixture.value
    pools: list[Doc] = []
    for index, pool in enumerate(universe["pools"]):
        base, quote = str(pool["pair"]).split("/")
        dex = dex_of[root[base]]
        if index in extra and (quote == reserve or dex_of[root[quote]] != dex):
            continue  # it would join two routes on different exchanges
        pools.append(_on_dex(pool, dex))
    return kind, {**universe, "pools": pools}


def _on_dex(pool: Doc, dex: str) -> Doc:
    """A pool document on `dex`: its `dex:` key (none for the fixture AMM), its fee the dex's."""
    if dex == Dex.fixture:
        return pool
    fee = pool["fee"]
    if dex == Dex.uniswap_v2 or Decimal(str(fee).rstrip("%")) / 100 not in V3_FEE_TIERS:
        fee = pct(V2_FEE * 100)
    return {"pair": pool["pair"], "dex": dex, **{k: v for k, v in pool.items() if k != "pair"}, "fee": fee}


# -- strategies ---------------------------------------------------------------------------

ParameterDraw = Callable[[Draw, Sequence[str]], Doc]
STRATEGIES: dict[str, tuple[int, ParameterDraw]] = {}
"""Strategy module -> (default weight, parameter generator). A strategy module found under
runner.strategies without one runs with its defaults (weight 1)."""


def strategy(module: str, weight: int) -> Callable[[ParameterDraw], ParameterDraw]:
    def register(fn: ParameterDraw) -> ParameterDraw:
        STRATEGIES[module] = (weight, fn)
        return fn

    return register


@strategy("runner.strategies.rebalance", 3)
def _rebalance(d: Draw, assets: Sequence[str]) -> Doc:
    params: Doc = {}
    if d.chance(70):
        params["cash_buffer"] = pct(Decimal(d.integer(0, 20)))
    if d.chance(70):
        params["tolerance"] = pct(d.decimal(Decimal("0.5"), Decimal(10), 1))
    if d.chance(30):
        params["min_trade"] = d.integer(1, 50)
    if d.chance(35) and assets:
        chosen = d.sample(assets, d.integer(1, len(assets)))
        left = 100
        weights: Doc = {}
        for symbol in sorted(chosen):
            share = d.integer(0, left)
            weights[symbol] = pct(Decimal(share))
            left -= share
        params["weights"] = weights
    return params


@strategy("runner.strategies.momentum", 2)
def _momentum(d: Draw, assets: Sequence[str]) -> Doc:
    params: Doc = {"lookback": d.integer(1, 4), "threshold": pct(d.decimal(Decimal("0.5"), Decimal(8), 1)),
                   "allocation": pct(Decimal(d.integer(10, 60)))}
    if d.chance(70):
        params["stop_loss"] = pct(Decimal(d.integer(3, 30)))
    else:
        params["stop_loss"] = None
    if d.chance(40):
        params["take_profit"] = pct(Decimal(d.integer(3, 50)))
    if d.chance(30):
        params["trailing_stop"] = pct(Decimal(d.integer(3, 30)))
    return params


def strategy_modules() -> list[str]:
    """Every strategy module of runner.strategies, sorted (so a new one is fuzzed too)."""
    import runner.strategies as package

    found = [f"{package.__name__}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if not m.name.startswith("_")]
    return sorted(m for m in found if hasattr(importlib.import_module(m), "decide_trades"))


def _strategy(d: Draw, config: FuzzConfig, assets: Sequence[str]) -> tuple[str, Doc]:
    weights = {m: config.weights.strategies.get(m, STRATEGIES.get(m, (1, None))[0]) for m in strategy_modules()}
    module = d.weighted(weights)
    draw_parameters = STRATEGIES.get(module, (1, None))[1]
    return module, (draw_parameters(d, assets) if draw_parameters is not None else {})


# -- event kinds --------------------------------------------------------------------------


@generates("deposit", 10)
def _deposit(d: Draw, w: WorldView, at: timedelta) -> Body:
    amount = _amount(d.magnitude(Decimal(50), Decimal(200_000)), int(w.tokens[w.reserve]["decimals"]))
    return {"amount": amount, "by": d.choice(w.investors)}


@generates("withdraw", 5)
def _withdraw(d: Draw, w: WorldView, at: timedelta) -> Body:
    share = _percent_of(WithdrawEvent, "fraction", Decimal(d.choice((1, 5, 10, 25, 50, 100))))
    return {"shares": pct(share), "by": d.choice(w.investors)}


@generates("rebase", 4)
def _rebase(d: Draw, w: WorldView, at: timedelta) -> Body | None:
    if not w.rebasing:
        return None
    change = d.decimal(Decimal(-5), Decimal(5), 1) or Decimal("0.5")
    return {"token": d.choice(w.rebasing), "change": pct(_percent_of(RebaseEvent, "change", change), sign=True)}


@generates("interest", 3)
def _interest(d: Draw, w: WorldView, at: timedelta) -> Body | None:
    if not w.rebasing:
        return None
    rate = _percent_of(InterestEvent, "rate", d.decimal(Decimal("0.01"), Decimal(2), 2))
    return {"token": d.choice(w.rebasing), "rate": pct(rate)}


@generates("price_shock", 14)
def _price_shock(d: Draw, w: WorldView, at: timedelta) -> Body:
    pool = d.choice(list(w.pools))
    if d.chance(85):
        move = d.decimal(Decimal(-40), Decimal(40), 1) or Decimal(1)
        return {"pair": pool["pair"], "move": pct(_percent_of(PriceShockEvent, "move", move), sign=True)}
    factor = d.decimal(Decimal("0.5"), Decimal(2), 2)
    declared = Decimal(pool["price"])
    price = min(max(_significant(declared * factor), declared / MAX_PRICE_FACTOR), declared * MAX_PRICE_FACTOR)
    return {"pair": pool["pair"], "price": price}


@generates("fail_next_trade", 6)
def _fail_next_trade(d: Draw, w: WorldView, at: timedelta) -> Body:
    body: Doc = {}
    if d.chance(70):
        body["pair"] = d.choice(w.pairs)
    body["mode"] = d.choice(field_choices(FailNextTradeEvent, "mode"))
    if d.chance(30):
        body["reason"] = d.choice(("SLIPPAGE", "EXPIRED", "K", "FUZZ"))
    return body


@generates("external_transfer", 3)
def _external_transfer(d: Draw, w: WorldView, at: timedelta) -> Body:
    token = d.choice(list(w.tokens))
    value = d.magnitude(Decimal(1), Decimal(5_000))  # in reserve currency
    amount = _amount(value / w.prices[token], int(w.tokens[token]["decimals"]))
    return {"token": token, "amount": amount.copy_negate() if d.chance(50) else amount}  # exact: no rounding to 28 digits


@generates("crash", 6)
def _crash(d: Draw, w: WorldView, at: timedelta) -> Body:
    """A named step, or (one time in three) a kill point drawn from the scenario seed."""
    if d.chance(33):
        within = field_range(CrashEvent, "within")
        return {"at_random": True, "within": d.integer(int(within.ge or 1), min(int(within.le or 100), 100))}
    return d.choice(field_choices(CrashEvent, "step"))


@generates("external_tx", 2)
def _external_tx(d: Draw, w: WorldView, at: timedelta) -> Body:
    """The runner's key used outside it: a few self-transfers or approvals."""
    count = field_range(ExternalTxEvent, "count")
    to = "self" if d.chance(50) else d.choice(list(w.tokens))
    return {"from": d.choice(field_choices(ExternalTxEvent, "sender")), "to": to,
            "count": d.integer(int(count.ge or 1), min(int(count.le or 3), 3))}


@generates("wire_fault", 3)
def _wire_fault(d: Draw, w: WorldView, at: timedelta) -> Body:
    """A transport fault or a lagging replica; drawn only where the runner has a wire."""
    calls = min(d.choice((1, 1, 2, 3)), field_range(WireFaultEvent, "calls").le or MAX_NODE_CALLS)
    if d.chance(40):
        body: Doc = {"lag": d.choice((1, 1, 2)), "calls": calls}
        if d.chance(60):
            body["method"] = d.choice(LAGGABLE)
        return body
    mode = d.choice(field_choices(WireFaultEvent, "mode"))
    body = {"mode": mode, "calls": calls}
    if mode == "duplicate_send":
        body["method"] = "send_raw_transaction"
    elif d.chance(40):
        body["method"] = d.choice(field_choices(WireFaultEvent, "method"))
    return body


@generates("set_parameter", 2)
def _set_parameter(d: Draw, w: WorldView, at: timedelta) -> Body | None:
    draw_parameters = STRATEGIES.get(w.strategy, (1, None))[1]
    if draw_parameters is None:
        return None
    fresh = draw_parameters(d, w.tradeable)
    if not fresh:
        return None
    name = d.choice(sorted(fresh))
    return {"name": name, "value": fresh[name]}


@generates("note", 1)
def _note(d: Draw, w: WorldView, at: timedelta) -> Body:
    return f"fuzz note {d.integer(0, 9999)}"


@generates("node_fault", 5)
def _node_fault(d: Draw, w: WorldView, at: timedelta) -> Body:
    body: Doc = {"mode": d.choice(field_choices(NodeFaultEvent, "mode")),
                 "calls": min(d.choice((1, 1, 2, 3, 5, 8)), field_range(NodeFaultEvent, "calls").le or MAX_NODE_CALLS)}
    if d.chance(40):
        body["method"] = d.choice(field_choices(NodeFaultEvent, "method"))
    return body


@generates("mempool", 3)
def _mempool(d: Draw, w: WorldView, at: timedelta) -> Body:
    return d.choice(field_choices(MempoolEvent, "action"))


@generates("node_restart", 1)
def _node_restart(d: Draw, w: WorldView, at: timedelta) -> Body:
    return {}


@generates("reorg", 2)
def _reorg(d: Draw, w: WorldView, at: timedelta) -> Body | None:
    if at <= timedelta(0):
        return None
    hours = int(at / timedelta(hours=1))
    if hours < 1:
        return None
    back = d.integer(1, min(hours, int(3 * w.cycle / timedelta(hours=1))))
    return format_duration(at - timedelta(hours=back))


# -- the scenario -------------------------------------------------------------------------


def _instant(d: Draw, cycle: timedelta, until: timedelta) -> timedelta:
    """When an event happens: on a tick (it sees the event), or somewhere between ticks."""
    ticks = int(until / cycle)
    tick = d.integer(0, ticks)
    if d.chance(45) or tick == ticks:
        return cycle * tick
    hours = max(1, int(cycle / timedelta(hours=1)))
    return cycle * tick + timedelta(hours=d.integer(1, hours - 1) if hours > 1 else 0)


START = "2024-01-01T00:00:00Z"
"""Every generated run starts here: runs of one universe share its deployed world."""


LEGACY_FAIR_SHARES = ("the legacy vault prices deposits and redemptions at the NAV posted at the last tick, stale "
                      "after any price move: its known flaw (scenarios/protocols/legacy-deposit-after-price-move)")
"""Why a legacy-vault run skips fair-shares: the flaw is the contract's, shown by a bundled
scenario; reported on every such run it drowned the campaign's findings, and a shrink
could move a real ERC-4626 fair-shares failure onto it."""


def vault_entries(kind: str) -> Doc:
    """The document's entries for its vault: the kind (legacy by default, so none), and on
    the legacy vault fair-shares skipped for its known flaw. The generator and the
    shrinker's `vault -> legacy` step both write a vault through this."""
    if kind == VaultKind.legacy:
        return {"invariants": {"skip": [{"name": "fair-shares", "reason": LEGACY_FAIR_SHARES}]}}
    return {"vault": {"kind": kind}}


def generate_document(seed: int, config: FuzzConfig, *, name: str, description: str) -> Doc:
    """The scenario document of one run, drawn from its seed alone."""
    root = Draw(seed)
    universe, prices = _universe(root.fork("universe"), config)
    vault, universe = _venues(root.fork("vault"), config, universe)
    reserve = str(universe["reserve"])
    assets = [s for s in universe["tokens"] if s != reserve]
    people = root.fork("investors")
    investors = tuple(INVESTORS[: people.integer(1, max(1, min(config.weights.investors, len(INVESTORS))))])
    module, parameters = _strategy(root.fork("strategy"), config, assets)
    clock: Doc = {"start": START, "cycle": format_duration(config.cycle), "until": format_duration(config.until)}
    timing = root.fork("clock")
    if timing.chance(config.weights.trigger_checks) and config.cycle >= timedelta(hours=4):
        clock = {**clock, "trigger_checks": format_duration(config.cycle / 4)}
    policy = root.fork("accounting")
    accounting: Doc = {"checks": True, "on_mismatch": policy.weighted({str(k): v for k, v in config.weights.on_mismatch.items()}),
                       "tolerance": policy.choice((Decimal(0), Decimal("0.000001"), Decimal("0.01")))}
    if policy.chance(50):
        accounting["dust"] = Decimal("0.001")
    view = WorldView(reserve, universe["tokens"], universe["pools"], prices, investors, module, parameters,
                     config.backend, config.cycle, config.until)
    timeline = list(_timeline(root.fork("timeline"), view, config))
    doc: Doc = {"name": name, "description": description, "seed": seed % (1 << 63), "clock": clock,
                "chain": {"backend": config.backend}, "universe": universe,
                **vault_entries(vault),
                "strategy": {"module": module, "parameters": parameters}, "accounting": accounting,
                "investors": list(investors), "timeline": timeline}
    return doc


def _timeline(d: Draw, w: WorldView, config: FuzzConfig) -> Iterator[Doc]:
    weights = config.kind_weights()
    cycles = max(1, int(w.until / w.cycle))
    low, high = config.weights.events_per_cycle
    count = d.integer(low * cycles, high * cycles)
    entries: list[tuple[timedelta, int, Doc]] = []
    if config.events is None or "deposit" in config.events:  # money to trade with from the start
        first = GENERATORS["deposit"].draw(d, w, timedelta(0))
        entries.append((timedelta(0), 0, {"at": format_duration(timedelta(0)), "deposit": first}))
    attempts = 0
    while weights and len(entries) < count and attempts < 4 * count:
        attempts += 1
        kind = d.weighted(weights)
        at = _instant(d, w.cycle, w.until)
        body = GENERATORS[kind].draw(d, w, at)
        if body is None:
            continue
        entries.append((at, len(entries), {"at": format_duration(at), kind: body}))
    yield from carried_out([entry for _at, _order, entry in sorted(entries, key=lambda e: (e[0], e[1]))])


def carried_out(timeline: Sequence[Doc]) -> list[Doc]:
    """The timeline without the entries the harness cannot carry out (its limits, not the
    runner's: see HARNESS_LIMITS), so a failure is always the runner's or an invariant's.
    The shrinker calls it on every candidate too."""
    ordered = sorted(enumerate(timeline), key=lambda e: (_offset(e[1]["at"]), event_kind(e[1]) == "node_fault", e[0]))
    entries = [entry for _index, entry in ordered]  # HARNESS_LIMITS["fault-then-event"]
    stalls = any(event_kind(e) == "mempool" and e["mempool"] == "stall" for e in entries)
    kept: list[Doc] = []
    stalled = False
    restarts: list[timedelta] = []
    last_reorg: timedelta | None = None
    for entry in entries:
        kind, at = event_kind(entry), _offset(entry["at"])
        body = entry[kind]
        if kind == "mempool":
            stalled = body == "stall" or (stalled and body != "resume")
        if kind == "node_restart":
            restarts.append(at)
        if kind == "external_transfer" and stalled and Decimal(str(body["amount"])) < 0:
            continue  # HARNESS_LIMITS["stalled-impersonation"]
        if kind == "fail_next_trade" and stalls:
            continue  # HARNESS_LIMITS["stall-with-trade-fault"]
        if kind == "reorg":
            to = _offset(body)
            if any(to <= r <= at for r in restarts):
                continue  # HARNESS_LIMITS["reorg-across-restart"]
            if last_reorg is not None and to <= last_reorg:
                continue  # HARNESS_LIMITS["reorg-to-reorged"]
            last_reorg = at
        kept.append(entry)
    return kept


HARNESS_LIMITS = {
    "stalled-impersonation": "value leaving the vault (an impersonated transfer) while the mempool is "
                             "stalled: the harness needs the transaction mined at once",
    "reorg-across-restart": "a reorg to an instant before a node restart: chain snapshots die with the "
                            "node process",
    "reorg-to-reorged": "a reorg to an instant at or before an earlier reorg: a chain snapshot is "
                        "used up by the revert that uses it",
    "stall-with-trade-fault": "a trade fault in a run with a mempool stall: disarming the fault is a "
                              "harness transaction, refused while blocks are stalled",
    "fault-then-event": "node faults are placed after the other events of their instant: harness "
                        "events (a withdrawal reads the investor's shares) would consume them",
    "rebasing-with-fee": "a rebasing token with a transfer fee: the fixture's rebasing token has no fee",
}
"""What the generator never draws, and why: things the harness cannot carry out."""


def _offset(value: Any) -> timedelta:
    if isinstance(value, timedelta):
        return value
    from harness.scenario.quantities import parse_duration

    return parse_duration(str(value))


def event_kind(entry: Mapping[str, Any]) -> str:
    """The kind key of a timeline entry document."""
    return next(k for k in entry if k != "at")


__all__ = [
    "GENERATORS",
    "STRATEGIES",
    "Doc",
    "FuzzConfig",
    "GenerationError",
    "KindGenerator",
    "WorldView",
    "event_kind",
    "generate_document",
    "generates",
    "pct",
    "runnable_on",
    "strategy_modules",
    "ungenerated_kinds",
]
