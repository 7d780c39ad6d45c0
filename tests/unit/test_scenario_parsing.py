"""Scenario files that are valid decode to exactly the model values they describe."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

import harness.scenario as scenario_pkg
from harness.errors import ScenarioError
from harness.scenario import (
    CRASH_STEPS,
    EVENT_TYPES,
    EXPECTATION_TYPES,
    AccountingExpectation,
    ChainSpec,
    CrashEvent,
    CrashStep,
    DepositEvent,
    ErrorExpectation,
    ExternalTransferEvent,
    FailNextTradeEvent,
    NavExpectation,
    NoteEvent,
    PositionExpectation,
    PriceShockEvent,
    RebaseEvent,
    Scenario,
    SetParameterEvent,
    WithdrawEvent,
    load_scenario,
    parse_scenario_text,
    render_template,
)
from harness.scenario.quantities import (
    QuantityError,
    format_duration,
    format_percent,
    parse_amount,
    parse_datetime,
    parse_duration,
    parse_percent,
    parse_time,
)
from harness.scenario.yamlnodes import LMapping, compose_text, plain_scalar, to_plain
from runner.steps import Step

EXAMPLE = """\
name: rebase-while-holding
description: A 1% positive rebase while the strategy holds the rebasing token.
seed: 7
clock: {start: 2024-01-01T00:00:00Z, cycle: 1d, trigger_checks: 1h, until: 10d}
chain: {backend: eth-tester}
universe:
  reserve: USDC
  tokens: {USDC: {decimals: 6}, WETH: {decimals: 18}, stETH: {decimals: 18, rebasing: true}}
  pools:
    - {pair: WETH/USDC, price: 2000, depth: 2_000_000, fee: 0.30%}
    - {pair: stETH/USDC, price: 2000, depth: 1_000_000}
strategy: {module: runner.strategies.rebalance, parameters: {weights: {WETH: 0.5, stETH: 0.5}}}
accounting: {checks: true, tolerance: 0.000001}
timeline:
  - {at: 0s, deposit: {amount: 10_000, by: alice}}
  - {at: 1d12h, rebase: {token: stETH, change: +1%}}
  - {at: 2d, price_shock: {pair: WETH/USDC, move: -30%}}
  - {at: 3d, fail_next_trade: {pair: WETH/USDC, mode: revert, reason: SLIPPAGE}}
  - {at: 4d, withdraw: {shares: 50%, by: alice}}
  - {at: 5d, external_transfer: {token: WETH, amount: -0.5}}
expect:
  - {at: 2d, position: {pair: WETH/USDC, closed_by: stop_loss}}
  - {at: 5d, accounting: {outcome: mismatch, asset: WETH}}
"""

MINIMAL = """\
name: minimal
description: the smallest valid world
clock: {start: 2024-01-01T00:00:00Z, cycle: 1d, until: 10d}
universe:
  reserve: USDC
  tokens: {USDC: {decimals: 6}, WETH: {}, stETH: {rebasing: true}}
  pools: [{pair: WETH/USDC, price: 2000, depth: 2_000_000}, {pair: stETH/USDC, price: 2000, depth: 1_000_000}]
strategy: {module: runner.strategies.rebalance}
"""


def parse(text: str) -> Scenario:
    """Parse under a fixed file label so messages and source info are predictable."""
    return parse_scenario_text(text, "scenarios/test.yaml")


def assert_exact_decimal(value: object, text: str) -> None:
    """Equal *and* built from the same digits (a float detour would add digits)."""
    assert isinstance(value, Decimal)
    assert value.as_tuple() == Decimal(text).as_tuple()


class TestExampleScenario:
    """The example from the format description decodes to the exact expected model."""

    def test_top_level_fields(self) -> None:
        """Name, description, seed, chain and the default investor come through unchanged."""
        scenario = parse(EXAMPLE)
        assert scenario.name == "rebase-while-holding"
        assert scenario.description.startswith("A 1% positive rebase")
        assert scenario.seed == 7
        assert scenario.chain == ChainSpec(backend="eth-tester", fork_url=None, fork_block=None)
        assert scenario.investors == ("alice",)

    def test_clock(self) -> None:
        """The start is an aware UTC datetime and every duration a timedelta."""
        clock = parse(EXAMPLE).clock
        assert clock.start == datetime(2024, 1, 1, tzinfo=UTC)
        assert clock.start.tzinfo is UTC
        assert clock.cycle == timedelta(days=1)
        assert clock.trigger_checks == timedelta(hours=1)
        assert clock.until == timedelta(days=10)

    def test_tokens_keep_file_order_and_settings(self) -> None:
        """Tokens stay in file order with their decimals and rebasing flags."""
        tokens = parse(EXAMPLE).universe.tokens
        assert list(tokens) == ["USDC", "WETH", "stETH"]
        assert [t.decimals for t in tokens.values()] == [6, 18, 18]
        assert [t.rebasing for t in tokens.values()] == [False, False, True]
        assert tokens["USDC"].transfer_fee == Decimal(0)

    def test_pools(self) -> None:
        """Pool prices, depths and fees are exact Decimals; 0.30% and the default agree."""
        universe = parse(EXAMPLE).universe
        assert universe.reserve == "USDC"
        first, second = universe.pools
        assert (first.pair, first.base, first.quote) == ("WETH/USDC", "WETH", "USDC")
        assert_exact_decimal(first.price, "2000")
        assert_exact_decimal(first.depth, "2000000")
        assert first.fee == Decimal("0.003")
        assert second.depth == Decimal("1000000")
        assert second.fee == Decimal("0.003")

    def test_strategy_parameters_are_plain_values(self) -> None:
        """Free-form parameters become dicts of exact Decimals, in file order."""
        strategy = parse(EXAMPLE).strategy
        assert strategy.module == "runner.strategies.rebalance"
        assert strategy.parameters == {"weights": {"WETH": Decimal("0.5"), "stETH": Decimal("0.5")}}
        assert_exact_decimal(strategy.parameters["weights"]["WETH"], "0.5")

    def test_accounting(self) -> None:
        """Given accounting values are exact and the rest keep their defaults."""
        accounting = parse(EXAMPLE).accounting
        assert accounting.checks is True
        assert_exact_decimal(accounting.tolerance, "0.000001")
        assert accounting.relative_tolerance == Decimal(0)
        assert accounting.dust == Decimal(0)
        assert accounting.on_mismatch == "report"

    def test_timeline(self) -> None:
        """Each timeline entry becomes the right event with offsets, values and its line."""
        assert parse(EXAMPLE).timeline == (
            DepositEvent(at=timedelta(0), line=15, amount=Decimal(10_000), by="alice"),
            RebaseEvent(
                at=timedelta(days=1, hours=12), line=16, token="stETH", change=Decimal("0.01")
            ),
            PriceShockEvent(at=timedelta(days=2), line=17, pair="WETH/USDC", move=Decimal("-0.3")),
            FailNextTradeEvent(
                at=timedelta(days=3), line=18, pair="WETH/USDC", mode="revert", reason="SLIPPAGE"
            ),
            WithdrawEvent(at=timedelta(days=4), line=19, fraction=Decimal("0.5"), by="alice"),
            ExternalTransferEvent(
                at=timedelta(days=5), line=20, token="WETH", amount=Decimal("-0.5")
            ),
        )

    def test_withdraw_percentage_is_a_fraction(self) -> None:
        """``shares: 50%`` sets the fraction and leaves the absolute share amount unset."""
        withdraw = parse(EXAMPLE).timeline[4]
        assert isinstance(withdraw, WithdrawEvent)
        assert (withdraw.fraction, withdraw.shares) == (Decimal("0.5"), None)

    def test_expectations(self) -> None:
        """Expectations decode to their kinds with offsets and lines."""
        assert parse(EXAMPLE).expect == (
            PositionExpectation(
                at=timedelta(days=2), line=22, pair="WETH/USDC", closed_by="stop_loss"
            ),
            AccountingExpectation(at=timedelta(days=5), line=23, outcome="mismatch", asset="WETH"),
        )

    def test_source_info_from_text(self) -> None:
        """Parsing text records the given label and the sha256 of the UTF-8 text."""
        source = parse(EXAMPLE).source
        assert source.path == "scenarios/test.yaml"
        assert source.sha256 == hashlib.sha256(EXAMPLE.encode()).hexdigest()

    def test_parse_is_deterministic(self) -> None:
        """Two parses of the same text give equal models."""
        assert parse(EXAMPLE) == parse(EXAMPLE)


class TestLoadScenario:
    """Loading from disk hashes the bytes and labels everything with the path as given."""

    def test_load_records_path_and_sha256(self, tmp_path: Path) -> None:
        """The source info carries the path string and the sha256 of the file's bytes."""
        path = tmp_path / "example.yaml"
        path.write_bytes(EXAMPLE.encode())
        scenario = load_scenario(path)
        assert scenario.source.path == str(path)
        assert scenario.source.sha256 == hashlib.sha256(EXAMPLE.encode()).hexdigest()
        assert scenario.timeline == parse(EXAMPLE).timeline

    def test_byte_order_mark_is_ignored(self, tmp_path: Path) -> None:
        """A UTF-8 BOM written by some editors does not become part of the first key."""
        path = tmp_path / "bom.yaml"
        path.write_bytes(b"\xef\xbb\xbf" + MINIMAL.encode())
        assert load_scenario(path).name == "minimal"


class TestScalarTyping:
    """Plain scalars are typed from their source text, never via PyYAML's 1.1 rules."""

    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("NO", "NO"),
            ("ON", "ON"),
            ("yes", "yes"),
            ("True", True),
            ("false", False),
            ("~", None),
            ("null", None),
            ("", None),
            ("10_000", 10_000),
            ("-5", -5),
            ("0x00ff", "0x00ff"),
            ("1:30", "1:30"),
            (".inf", ".inf"),
            ("1d12h", "1d12h"),
            ("+1%", "+1%"),
            ("2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"),
        ],
    )
    def test_plain_scalar(self, text: str, expected: object) -> None:
        """Each plain scalar gets the type the scenario format promises."""
        value = plain_scalar(text)
        assert value == expected
        assert type(value) is type(expected)

    @pytest.mark.parametrize("text", ["0.1", "1e-6", "2_000.25", ".5", "-0.000001"])
    def test_decimals_come_from_text(self, text: str) -> None:
        """Decimal-looking scalars become Decimals with exactly the written digits."""
        assert_exact_decimal(plain_scalar(text), text.replace("_", ""))

    def test_quoted_scalars_are_strings(self) -> None:
        """Quoting keeps numbers and booleans as text."""
        root, errors = compose_text("a: '5'\nb: \"true\"\nc: !!str 0.1\n", "t.yaml")
        assert errors == []
        assert to_plain(root) == {"a": "5", "b": "true", "c": "0.1"}

    def test_token_named_no_stays_a_string(self) -> None:
        """A token symbol NO is a string as key, as reserve and inside a pair."""
        text = MINIMAL.replace("reserve: USDC", "reserve: NO").replace("USDC", "NO")
        scenario = parse(text)
        assert scenario.universe.reserve == "NO"
        assert list(scenario.universe.tokens) == ["NO", "WETH", "stETH"]
        assert scenario.universe.pools[0].quote == "NO"

    def test_float_precision_is_kept(self) -> None:
        """``0.1`` in YAML is Decimal('0.1'), not the float 0.1000000000000000055..."""
        scenario = parse(MINIMAL + "accounting: {tolerance: 0.1, dust: 1e-6}\n")
        assert_exact_decimal(scenario.accounting.tolerance, "0.1")
        assert scenario.accounting.dust == Decimal("0.000001")

    def test_lines_are_one_based(self) -> None:
        """Mapping values and keys carry 1-based source lines."""
        root, _ = compose_text("a: 1\nb:\n  c: 2\n", "t.yaml")
        assert isinstance(root, LMapping)
        assert root.key_lines == {"a": 1, "b": 2}
        assert root.value["b"].line == 3

    def test_anchors_and_merge_keys(self) -> None:
        """Aliases reuse a value and ``<<`` merges a mapping under explicit keys."""
        text = "base: &b {decimals: 6, rebasing: true}\ntok: {<<: *b, decimals: 8}\nsame: *b\n"
        root, errors = compose_text(text, "t.yaml")
        assert errors == []
        assert to_plain(root)["tok"] == {"decimals": 8, "rebasing": True}
        assert to_plain(root)["same"] == {"decimals": 6, "rebasing": True}


class TestQuantities:
    """The quantity parsers accept the documented spellings and nothing else."""

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("90s", timedelta(seconds=90)),
            ("15m", timedelta(minutes=15)),
            ("1h", timedelta(hours=1)),
            ("1d12h", timedelta(days=1, hours=12)),
            ("2w", timedelta(weeks=2)),
            ("1d 6h", timedelta(days=1, hours=6)),
            ("0s", timedelta(0)),
            (3600, timedelta(hours=1)),
        ],
    )
    def test_durations(self, value: object, expected: timedelta) -> None:
        """Each documented duration spelling gives the right timedelta."""
        assert parse_duration(value) == expected

    @pytest.mark.parametrize("value", ["1h1d", "1d1d", "1.5h", "-1d", "1x", "d", "", True, -5])
    def test_bad_durations(self, value: object) -> None:
        """Wrong unit order, repeats, fractions, signs and bools are refused with help."""
        with pytest.raises(QuantityError) as info:
            parse_duration(value)
        assert info.value.expected == "a duration like 90s, 15m, 1d12h"

    @pytest.mark.parametrize(
        ("value", "expected"),
        [
            ("0.30%", "0.003"),
            ("+1%", "0.01"),
            ("-30%", "-0.3"),
            (Decimal("0.003"), "0.003"),
            (1, "1"),
        ],
    )
    def test_percentages(self, value: object, expected: str) -> None:
        """Percent strings are divided by 100; bare numbers are already fractions."""
        assert parse_percent(value) == Decimal(expected)

    def test_percent_sign_required(self) -> None:
        """Where a bare number means something else, only a % string is a percentage."""
        assert parse_percent("50%", sign_required=True) == Decimal("0.5")
        with pytest.raises(QuantityError, match="a percentage like"):
            parse_percent(Decimal("0.5"), sign_required=True)

    @pytest.mark.parametrize(
        ("value", "expected"),
        [(10_000, "10000"), ("2_000_000.5", "2000000.5"), (Decimal("-0.5"), "-0.5")],
    )
    def test_amounts(self, value: object, expected: str) -> None:
        """Ints, Decimals and numeric strings become exact Decimals."""
        assert_exact_decimal(parse_amount(value), expected)

    @pytest.mark.parametrize("value", ["1,000", "abc", True, None, "1_"])
    def test_bad_amounts(self, value: object) -> None:
        """Anything that is not a plain number is refused, bools included."""
        with pytest.raises(QuantityError, match="an amount like 10_000 or 0.5"):
            parse_amount(value)

    def test_times(self) -> None:
        """Absolute times are converted to UTC; durations stay offsets."""
        assert parse_time("2024-01-01T02:00:00+02:00") == datetime(2024, 1, 1, tzinfo=UTC)
        assert parse_time("1d") == timedelta(days=1)

    def test_naive_datetime_refused(self) -> None:
        """A datetime without a zone is ambiguous and therefore an error."""
        with pytest.raises(QuantityError) as info:
            parse_datetime("2024-01-01T00:00:00")
        assert info.value.expected == "a datetime with a timezone"

    def test_formatting(self) -> None:
        """Durations and percentages print back the way they are written."""
        assert format_duration(timedelta(days=1, hours=12)) == "1d12h"
        assert format_duration(timedelta(0)) == "0s"
        assert format_percent(Decimal("0.003")) == "0.3%"


class TestEventShapes:
    """Every event and expectation shape, shorthand and default decodes as documented."""

    def test_shorthands_and_defaults(self) -> None:
        """Note, crash and error take a bare value; fail_next_trade may be null."""
        scenario = parse(
            MINIMAL
            + "timeline:\n"
            + "  - {at: 1d, note: some text}\n"
            + "  - {at: 1d, crash: broadcast}\n"
            + "  - {at: 1d, crash: {step: confirm}}\n"
            + "  - {at: 2d, fail_next_trade: }\n"
            + "expect:\n"
            + "  - {at: end, error: boom}\n"
        )
        assert scenario.timeline == (
            NoteEvent(at=timedelta(days=1), line=10, text="some text"),
            CrashEvent(at=timedelta(days=1), line=11, step="broadcast"),
            CrashEvent(at=timedelta(days=1), line=12, step="confirm"),
            FailNextTradeEvent(at=timedelta(days=2), line=13),
        )
        assert scenario.timeline[3] == FailNextTradeEvent(
            at=timedelta(days=2), line=13, pair=None, mode="revert", reason="SIMULATED_FAILURE"
        )
        assert scenario.expect == (
            ErrorExpectation(at=timedelta(days=10), line=15, contains="boom"),
        )

    def test_by_defaults_to_first_investor(self) -> None:
        """Deposits and withdrawals without ``by`` belong to the first investor."""
        scenario = parse(
            MINIMAL
            + "investors: [carol, dave]\n"
            + "timeline:\n"
            + "  - {at: 0s, deposit: {amount: 5}}\n"
            + "  - {at: 1d, withdraw: {shares: 12.5, by: dave}}\n"
        )
        deposit, withdraw = scenario.timeline
        assert isinstance(deposit, DepositEvent) and deposit.by == "carol"
        assert isinstance(withdraw, WithdrawEvent)
        assert (withdraw.fraction, withdraw.shares, withdraw.by) == (None, Decimal("12.5"), "dave")

    def test_absolute_times_and_end(self) -> None:
        """Absolute times become offsets from clock.start and ``end`` is clock.until."""
        text = MINIMAL.replace("until: 10d", "until: 2024-01-06T00:00:00Z")
        scenario = parse(
            text
            + "timeline: [{at: 2024-01-02T12:00:00+00:00, price_shock: {pair: WETH/USDC, price: 1500}}]\n"
            + "expect: [{at: end, nav: {min: 1, max: 2}}]\n"
        )
        assert scenario.clock.until == timedelta(days=5)
        shock = scenario.timeline[0]
        assert isinstance(shock, PriceShockEvent)
        assert (shock.at, shock.move, shock.price) == (
            timedelta(days=1, hours=12),
            None,
            Decimal(1500),
        )
        assert scenario.expect == (
            NavExpectation(at=timedelta(days=5), line=10, min=Decimal(1), max=Decimal(2)),
        )
        assert scenario.clock.time_at(shock.at) == datetime(2024, 1, 2, 12, tzinfo=UTC)

    def test_timeline_keeps_file_order(self) -> None:
        """Events out of time order stay in file order; sorting is the engine's job."""
        scenario = parse(
            MINIMAL
            + "timeline:\n"
            + "  - {at: 3d, note: later}\n"
            + "  - {at: 1d, set_parameter: {name: weights, value: {WETH: 1}}}\n"
        )
        assert [event.at for event in scenario.timeline] == [timedelta(days=3), timedelta(days=1)]
        assert scenario.timeline[1] == SetParameterEvent(
            at=timedelta(days=1), line=11, name="weights", value={"WETH": 1}
        )

    def test_empty_lists_mean_defaults(self) -> None:
        """``timeline:`` or ``expect:`` with every entry commented out is just empty."""
        scenario = parse(MINIMAL + "timeline:\n  # - {at: 1d, note: later}\nexpect:\n")
        assert (scenario.timeline, scenario.expect) == ((), ())

    def test_fork_backend(self) -> None:
        """anvil-fork with a URL and a block decodes; a token address without universe.adopt
        (it would be ignored: the world is deployed) is refused at its key."""
        scenario = parse(
            MINIMAL + "chain: {backend: anvil-fork, fork_url: http://127.0.0.1:8545, fork_block: 1}\n"
        )
        assert scenario.chain == ChainSpec(
            backend="anvil-fork", fork_url="http://127.0.0.1:8545", fork_block=1
        )
        text = MINIMAL.replace(
            "WETH: {}", "WETH: {address: '0xC02aaA39b223FE8D0A0e5C4F27eAD9083C756Cc2'}"
        )
        with pytest.raises(ScenarioError, match=r"universe\.tokens\.WETH\.address: expected no address unless "
                           r"universe\.adopt"):
            parse(text)


class TestTemplate:
    """The ``harness new`` template is itself a valid, complete scenario."""

    def test_template_parses_with_the_name(self) -> None:
        """The rendered template parses and carries the given name."""
        scenario = parse(render_template("my-scenario"))
        assert scenario.name == "my-scenario"
        assert len(scenario.timeline) >= 5

    def test_name_is_escaped(self) -> None:
        """Quotes and backslashes in the name cannot break the YAML."""
        assert parse(render_template('odd "name" \\ here')).name == 'odd "name" \\ here'

    def test_empty_name_refused(self) -> None:
        """An empty name would make an invalid scenario, so it is refused up front."""
        with pytest.raises(ValueError, match="must not be empty"):
            render_template("  ")

    def test_template_mentions_every_kind(self) -> None:
        """Every event and expectation kind and crash step is shown to the author."""
        text = render_template("x")
        kinds = [cls.kind for cls in EVENT_TYPES] + [cls.kind for cls in EXPECTATION_TYPES]
        missing = [kind for kind in (*kinds, *CRASH_STEPS) if kind not in text]
        assert missing == []


class TestPublicApi:
    """The package exports a stable, sorted API that other layers import."""

    def test_all_is_sorted_and_resolvable(self) -> None:
        """``__all__`` is sorted and every name in it exists."""
        assert scenario_pkg.__all__ == sorted(scenario_pkg.__all__)
        assert all(hasattr(scenario_pkg, name) for name in scenario_pkg.__all__)

    def test_crash_steps_match_the_literal(self) -> None:
        """CRASH_STEPS is the runner's step vocabulary (runner.steps), in its execution order."""
        assert CRASH_STEPS == tuple(CrashStep) == tuple(Step)
        assert CRASH_STEPS[0] == "sync_portfolio"
        assert CRASH_STEPS[-1] == "statistics"
        assert len(CRASH_STEPS) == 12

    def test_kinds_are_unique(self) -> None:
        """No two events or expectations share a YAML key."""
        events = [cls.kind for cls in EVENT_TYPES]
        expectations = [cls.kind for cls in EXPECTATION_TYPES]
        assert len(set(events)) == len(events) == 16
        assert len(set(expectations)) == len(expectations) == 8
