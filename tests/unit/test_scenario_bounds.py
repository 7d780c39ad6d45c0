"""Every bound of the scenario format refuses hostile input with one located message.

Each test feeds the bad input and pins the exact ``file:line: key: expected ..., found ...``
line, so a bound that stops holding (or a message that degrades) fails here.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

from harness.errors import ScenarioError, ScenarioErrors
from harness.scenario import check_for_backend, load_scenario, parse_scenario_text

FILE = "scenarios/x.yaml"

# Lines: name=1, description=2, clock=3, universe=4..8 (tokens=6, pool=8), strategy=9,
# timeline=10, its deposit=11; text appended from line 12.
BASE = """\
name: bounds
description: a valid world the tests below break one value at a time
clock: {start: 2024-01-01T00:00:00Z, cycle: 1d, until: 10d}
universe:
  reserve: USDC
  tokens: {USDC: {decimals: 6}, WETH: {}}
  pools:
    - {pair: WETH/USDC, price: 2000, depth: 2_000_000}
strategy: {module: runner.strategies.rebalance, parameters: {cash_buffer: 5%}}
timeline:
  - {at: 0s, deposit: {amount: 10_000}}
"""


def single(text: str, **kwargs: int) -> str:
    """The one error message a scenario text produces."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario_text(text, FILE, **kwargs)
    return str(info.value)


def lines(text: str) -> list[str]:
    with pytest.raises((ScenarioError, ScenarioErrors)) as info:
        parse_scenario_text(text, FILE)
    return str(info.value).splitlines()


def test_base_is_valid() -> None:
    """The base parses, so each failure below is its edit's fault."""
    assert parse_scenario_text(BASE, FILE).name == "bounds"


class TestNumbers:
    """No number reaches the model that could overflow, hang or blow up later."""

    def test_duration_overflowing_timedelta(self) -> None:
        assert single(BASE.replace("cycle: 1d", "cycle: 999999999999w")) == (
            "scenarios/x.yaml:3: clock.cycle: expected a duration of at most 36525d, found '999999999999w'"
        )

    def test_duration_as_huge_integer(self) -> None:
        assert single(BASE.replace("cycle: 1d", "cycle: 99999999999999999999")) == (
            "scenarios/x.yaml:3: clock.cycle: expected a duration of at most 36525d, found 99999999999999999999"
        )

    def test_integer_past_the_int_str_limit(self) -> None:
        """Python refuses int() of 4,301 digits; the node layer refuses far earlier."""
        text = BASE.replace("description: a valid", "seed: " + "9" * 5000 + "\ndescription: a valid")
        assert single(text) == (
            "scenarios/x.yaml:2: seed: expected a number of at most 100 characters, found a number of 5000"
        )

    def test_integer_digits_anywhere(self) -> None:
        """Inside free-form values too (parameters take any YAML)."""
        text = BASE.replace("{cash_buffer: 5%}", "{cash_buffer: " + "1" * 4301 + "}")
        assert single(text) == (
            "scenarios/x.yaml:9: strategy.parameters.cash_buffer: expected a number of at most 100 "
            "characters, found a number of 4301"
        )

    def test_extreme_exponent(self) -> None:
        """1e-999999999 passed check and grew to 24 GB writing a snapshot."""
        assert single(BASE + "accounting: {tolerance: 1e-999999999}\n") == (
            "scenarios/x.yaml:12: accounting.tolerance: expected an amount like 10_000 or 0.5 "
            "(at most 30 digits before and after the point), found 1e-999999999"
        )

    def test_decimals_bound(self) -> None:
        assert single(BASE.replace("USDC: {decimals: 6}", "USDC: {decimals: 31}")) == (
            "scenarios/x.yaml:6: universe.tokens.USDC.decimals: expected an integer >= 0 and <= 30, found 31"
        )

    def test_pool_reserves_fit_uint112(self) -> None:
        """The fixture pair stores reserves as uint112: 2**96 base units leaves room."""
        assert single(BASE.replace("depth: 2_000_000", "depth: 1e29")) == (
            "scenarios/x.yaml:8: universe.pools[0].depth: expected a depth between 0.001 and "
            "158456325028528 USDC at price 2000 (each reserve 1000 to 2**96 base units), found 1e29"
        )

    def test_pool_reserves_not_empty(self) -> None:
        assert single(BASE.replace("depth: 2_000_000", "depth: 0.0001")).endswith(
            "universe.pools[0].depth: expected a depth between 0.001 and 158456325028528 USDC at price "
            "2000 (each reserve 1000 to 2**96 base units), found 0.0001"
        )

    def test_deposit_fits(self) -> None:
        assert single(BASE.replace("amount: 10_000", "amount: 1e23")) == (
            "scenarios/x.yaml:11: timeline[0].deposit.amount: expected an amount between 0.000001 and "
            "79228162514264337593543 USDC (1 to 2**96 base units), found 1e23"
        )

    def test_deposit_at_least_one_unit(self) -> None:
        assert single(BASE.replace("amount: 10_000", "amount: 0.0000001")) == (
            "scenarios/x.yaml:11: timeline[0].deposit.amount: expected an amount between 0.000001 and "
            "79228162514264337593543 USDC (1 to 2**96 base units), found 0.0000001"
        )

    def test_external_transfer_fits(self) -> None:
        text = BASE + "  - {at: 1d, external_transfer: {token: WETH, amount: -1e11}}\n"
        assert single(text) == (
            "scenarios/x.yaml:12: timeline[1].external_transfer.amount: expected an amount of between "
            "0.000000000000000001 and 79228162514 WETH (1 to 2**96 base units), found -1e11"
        )

    def test_price_shock_target_within_a_factor(self) -> None:
        text = BASE + "  - {at: 1d, price_shock: {pair: WETH/USDC, price: 1e-9}}\n"
        assert single(text) == (
            "scenarios/x.yaml:12: timeline[1].price_shock.price: expected a price between 0.002 and "
            "2000000000 (within a factor 1000000 of the pool's 2000), found 1e-9"
        )

    def test_price_shock_move_bounded(self) -> None:
        text = BASE + "  - {at: 1d, price_shock: {pair: WETH/USDC, move: 1e6}}\n"
        assert single(text) == (
            "scenarios/x.yaml:12: timeline[1].price_shock.move: expected a percentage > -100% and "
            "<= 100000%, found 1e6"
        )

    def test_node_fault_calls(self) -> None:
        assert single(BASE + "  - {at: 1d, node_fault: {calls: 1000000}}\n") == (
            "scenarios/x.yaml:12: timeline[1].node_fault.calls: expected an integer >= 1 and <= 1000, found 1000000"
        )


class TestTime:
    """The clock starts where the chain can follow and the run has a stated length."""

    @pytest.mark.parametrize("start", ["0001-01-01T00:00:00Z", "1969-12-31T00:00:00Z", "9999-12-31T00:00:00Z"])
    def test_start_year(self, start: str) -> None:
        assert single(BASE.replace("2024-01-01T00:00:00Z", start)) == (
            "scenarios/x.yaml:3: clock.start: expected a datetime >= 1971-01-01T00:00:00Z and "
            f"< 2100-01-01T00:00:00Z, found '{start}'"
        )

    def test_start_with_an_offset_past_year_one(self) -> None:
        """0001-01-01 at +01:00 has no UTC instant: refused, never an OverflowError."""
        assert single(BASE.replace("2024-01-01T00:00:00Z", "0001-01-01T00:00:00+01:00")) == (
            "scenarios/x.yaml:3: clock.start: expected a datetime with a timezone like "
            "2024-01-01T00:00:00Z, found '0001-01-01T00:00:00+01:00'"
        )

    def test_too_many_instants(self) -> None:
        text = BASE.replace("cycle: 1d, until: 10d", "cycle: 1s, until: 52w")
        assert single(text) == (
            "scenarios/x.yaml:3: clock.cycle: expected a run of at most 10000 instants until "
            "clock.until (raise it with --max-instants), found 1s, which makes 31449601 instants"
        )

    def test_trigger_checks_count(self) -> None:
        text = BASE.replace("cycle: 1d, until: 10d", "cycle: 1d, trigger_checks: 1m, until: 10d")
        assert single(text) == (
            "scenarios/x.yaml:3: clock.trigger_checks: expected a run of at most 10000 instants until "
            "clock.until (raise it with --max-instants), found 1m, which makes 14401 instants"
        )

    def test_max_instants_override(self) -> None:
        """``max_instants`` (``--max-instants``) raises the limit and lowers it."""
        text = BASE.replace("cycle: 1d, until: 10d", "cycle: 1m, until: 10d")
        assert parse_scenario_text(text, FILE, max_instants=20_000).clock.instants() == 14_401
        assert single(BASE, max_instants=5).endswith("found 1d, which makes 11 instants")

    def test_event_time_past_a_century(self) -> None:
        assert single(BASE.replace("at: 0s", "at: 9999-01-01T00:00:00Z")) == (
            "scenarios/x.yaml:11: timeline[0].at: expected a time within 36525d of clock.start, "
            "found '9999-01-01T00:00:00Z'"
        )


class TestSizes:
    """Strings, lists and the document itself are bounded."""

    def test_revert_reason_length(self) -> None:
        text = BASE + "  - {at: 1d, fail_next_trade: {reason: " + "x" * 300 + "}}\n"
        assert single(text) == (
            "scenarios/x.yaml:12: timeline[1].fail_next_trade.reason: expected a string of at most 200 "
            "characters, found '" + "x" * 57 + "...'"
        )

    def test_any_scalar_length(self) -> None:
        """A 1 MB revert reason is refused by the node layer before the model sees it."""
        text = BASE + "  - {at: 1d, fail_next_trade: {reason: " + "x" * 20_000 + "}}\n"
        assert single(text) == (
            "scenarios/x.yaml:12: timeline[1].fail_next_trade.reason: expected a value of at most "
            "10000 characters, found 20000 characters"
        )

    def test_key_length(self) -> None:
        assert single(BASE + "k" * 300 + ": 1\n") == (
            "scenarios/x.yaml:12: expected a key of at most 200 characters, found a key of 300"
        )

    def test_timeline_length(self) -> None:
        text = BASE + "".join("  - {at: 1d, note: x}\n" for _ in range(10_000))
        assert single(text) == (
            "scenarios/x.yaml:11: timeline: expected a list of at most 10000 items, found a list of 10001 items"
        )

    def test_alias_bomb(self) -> None:
        """A 1 KB billion laughs is refused at the alias that crosses the limit, unexpanded."""
        bomb = "a: &a [lol, lol, lol, lol, lol, lol, lol, lol, lol]"
        previous = "a"
        for name in "bcdefgh":
            bomb += f", {name}: &{name} [" + ", ".join([f"*{previous}"] * 9) + "]"
            previous = name
        text = BASE + f"  - {{at: 1d, set_parameter: {{name: weights, value: {{{bomb}}}}}}}\n"
        assert len(text) < 2_000
        assert lines(text)[0] == (
            "scenarios/x.yaml:12: timeline[1].set_parameter.value.f[0]: expected a document of at most "
            "100000 values with aliases expanded, found an alias of 66430 values past the limit"
        )

    def test_nesting_depth(self) -> None:
        text = BASE.replace("{cash_buffer: 5%}", "{cash_buffer: " + "[" * 40 + "]" * 40 + "}")
        assert lines(text)[0] == (
            "scenarios/x.yaml:9: strategy.parameters.cash_buffer[0][0][0][0][0][0][0][0][0][0][0][0][0][0]"
            "[0][0][0][0][0][0][0][0][0][0][0][0][0][0][0]: expected at most 32 levels of nesting, "
            "found deeper nesting"
        )


class TestFiles:
    """Only regular files under 1 MiB are read, and nothing ever blocks."""

    def test_directory(self, tmp_path: Path) -> None:
        with pytest.raises(ScenarioError) as info:
            load_scenario(tmp_path)
        assert str(info.value) == f"{tmp_path}: expected a regular file, found a directory"

    def test_fifo_never_blocks(self, tmp_path: Path) -> None:
        fifo = tmp_path / "x.yaml"
        os.mkfifo(fifo)
        with pytest.raises(ScenarioError) as info:
            load_scenario(fifo)
        assert str(info.value) == f"{fifo}: expected a regular file, found a FIFO"

    def test_device(self) -> None:
        with pytest.raises(ScenarioError) as info:
            load_scenario("/dev/zero")
        assert str(info.value) == "/dev/zero: expected a regular file, found a character device"

    def test_huge_file(self, tmp_path: Path) -> None:
        path = tmp_path / "huge.yaml"
        path.write_bytes(b"#" * ((1 << 20) + 1))
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        assert str(info.value) == f"{path}: expected a scenario file of at most 1 MiB, found a larger file"


class TestWorld:
    """What the runner would trip over at run time is refused by check."""

    def test_token_without_a_pool(self) -> None:
        """Today's run stopped with KeyError: 'no pool trades WBTC' (the accounting check)."""
        assert single(BASE.replace("WETH: {}", "WETH: {}, WBTC: {decimals: 8}")) == (
            "scenarios/x.yaml:6: universe.tokens.WBTC: expected a token the runner can trade: a pool "
            "WBTC/USDC (or WBTC/X with a route to USDC in at most 3 hops), found no such pool for 'WBTC'"
        )

    def test_rebasing_token_with_a_transfer_fee(self) -> None:
        """Fuzz drew it: accepted, then run on a rebasing token that takes no fee."""
        assert single(BASE.replace("WETH: {}", "WETH: {rebasing: true, transfer_fee: 1%}")) == (
            "scenarios/x.yaml:6: universe.tokens.WETH.transfer_fee: expected 0 for a rebasing token "
            "(the rebasing token takes no fee), found 0.01"
        )

    def test_token_routed_through_another(self) -> None:
        """A pool against a token that has a pool to the reserve is a route."""
        text = BASE.replace("WETH: {}", "WETH: {}, WBTC: {decimals: 8}").replace(
            "depth: 2_000_000}", "depth: 2_000_000}\n    - {pair: WBTC/WETH, price: 20, depth: 1_000}"
        )
        assert [pool.pair for pool in parse_scenario_text(text, FILE).universe.pools] == ["WETH/USDC", "WBTC/WETH"]

    def test_duplicate_pool(self) -> None:
        text = BASE.replace("depth: 2_000_000}", "depth: 2_000_000}\n    - {pair: WETH/USDC, price: 1, depth: 1_000}")
        assert single(text) == (
            "scenarios/x.yaml:9: universe.pools[1].pair: expected each pair at most once, "
            "found 'WETH/USDC' again (first as pools[0])"
        )

    def test_duplicate_investor(self) -> None:
        assert single(BASE + "investors: [alice, bob, alice]\n") == (
            "scenarios/x.yaml:12: investors[2]: expected each item at most once, found 'alice' again (first as investors[0])"
        )

    def test_node_event_on_eth_tester(self) -> None:
        assert single(BASE + "  - {at: 1d, mempool: stall}\nchain: {backend: eth-tester}\n") == (
            "scenarios/x.yaml:12: timeline[1].mempool: expected backend anvil/anvil-fork/revm (set chain: "
            "{backend: anvil} or run with --backend anvil), found backend eth-tester"
        )

    def test_check_for_backend(self) -> None:
        """The CLI's --backend overrides the file's: the engine asks the same question."""
        scenario = parse_scenario_text(BASE + "  - {at: 1d, node_restart: {}}\nchain: {backend: anvil}\n", FILE)
        check_for_backend(scenario, "anvil")
        with pytest.raises(ScenarioError) as info:
            check_for_backend(scenario, "eth-tester")
        assert str(info.value) == (
            "scenarios/x.yaml:12: timeline[1].node_restart: expected backend anvil/anvil-fork/revm (set chain: "
            "{backend: anvil} or run with --backend anvil), found backend eth-tester"
        )


class TestForkSource:
    """``fork_url: scenario:PATH`` is a scenario file next to this one that loads."""

    FORK = "chain: {backend: anvil-fork, fork_url: 'scenario:%s', fork_block: 1}\n"

    def write(self, directory: Path, name: str, text: str) -> Path:
        path = directory / name
        path.write_text(text)
        return path

    def error(self, path: Path) -> str:
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        return str(info.value)

    def test_relative_to_the_file_not_the_cwd(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        (tmp_path / "sub").mkdir()
        history = self.write(tmp_path / "sub", "history.yaml", BASE)
        fork = self.write(tmp_path / "sub", "fork.yaml", BASE + self.FORK % "history.yaml")
        monkeypatch.chdir(tmp_path)
        assert load_scenario("sub/fork.yaml").chain.fork_url == f"scenario:{history}"
        assert load_scenario(fork).chain.fork_url == f"scenario:{history}"

    def test_not_a_scenario_file_is_never_read(self, tmp_path: Path) -> None:
        """Today scenario:/etc/passwd echoed its first line."""
        fork = self.write(tmp_path, "fork.yaml", BASE + self.FORK % "/etc/passwd")
        assert self.error(fork) == (
            f"{fork}:12: chain.fork_url: expected scenario:PATH naming a scenario file (.yaml or .yml) "
            "relative to this file, found 'scenario:/etc/passwd'"
        )

    def test_missing(self, tmp_path: Path) -> None:
        fork = self.write(tmp_path, "fork.yaml", BASE + self.FORK % "absent.yaml")
        assert self.error(fork) == (
            f"{fork}:12: chain.fork_url: expected scenario:PATH naming a scenario file (.yaml or .yml) "
            f"relative to this file that loads, found 'scenario:absent.yaml' ({tmp_path}/absent.yaml: "
            "expected a readable scenario file, found No such file or directory)"
        )

    def test_history_that_does_not_load(self, tmp_path: Path) -> None:
        self.write(tmp_path, "history.yaml", BASE.replace("cycle: 1d", "cycle: 1x"))
        fork = self.write(tmp_path, "fork.yaml", BASE + self.FORK % "history.yaml")
        assert self.error(fork) == (
            f"{fork}:12: chain.fork_url: expected scenario:PATH naming a scenario file (.yaml or .yml) "
            f"relative to this file that loads, found 'scenario:history.yaml' ({tmp_path}/history.yaml:3: "
            "clock.cycle: expected a duration like 90s, 15m, 1d12h, found '1x')"
        )

    def test_cycle(self, tmp_path: Path) -> None:
        self.write(tmp_path, "a.yaml", BASE + self.FORK % "b.yaml")
        self.write(tmp_path, "b.yaml", BASE + self.FORK % "a.yaml")
        assert self.error(tmp_path / "a.yaml") == (
            f"{tmp_path}/a.yaml:12: chain.fork_url: expected scenario:PATH naming a scenario file (.yaml or .yml) "
            f"relative to this file that loads, found 'scenario:b.yaml' ({tmp_path}/b.yaml:12: chain.fork_url: "
            "expected a history scenario that does not fork back to this one, found 'scenario:a.yaml' (a cycle))"
        )


    def test_fork_chain_depth(self, tmp_path: Path) -> None:
        for index in range(6):
            self.write(tmp_path, f"h{index}.yaml", BASE + self.FORK % f"h{index + 1}.yaml")
        self.write(tmp_path, "h6.yaml", BASE)
        assert self.error(tmp_path / "h0.yaml").endswith("found 'scenario:h5.yaml' (one fork too many)))))")


class TestEntries:
    """Rules of a kind's fields are reported at the kind's key or the field's."""

    def test_withdraw_fraction_bound_at_shares(self) -> None:
        assert single(BASE + "  - {at: 1d, withdraw: {shares: 150%}}\n") == (
            "scenarios/x.yaml:12: timeline[1].withdraw.shares: expected a percentage > 0% and <= 100%, found '150%'"
        )

    def test_rule_of_the_kind_at_its_key(self) -> None:
        assert single(BASE + "expect:\n  - {at: end, nav: {}}\n") == (
            "scenarios/x.yaml:13: expect[0].nav: expected at least one of min or max, found neither"
        )


class TestPureLoader:
    """Without libyaml the composer recurses: deep nesting is still one located error."""

    def test_recursion(self) -> None:
        import yaml

        from harness.errors import ScenarioSyntaxError
        from harness.scenario.yamlnodes import compose_text

        limit = sys.getrecursionlimit()
        sys.setrecursionlimit(1_000)  # as a plain interpreter has it (some plugins raise it)
        try:
            with pytest.raises(ScenarioSyntaxError) as info:
                compose_text("a: " + "[" * 2000 + "]" * 2000 + "\n", FILE, loader=yaml.SafeLoader)
        finally:
            sys.setrecursionlimit(limit)
        assert str(info.value) == "scenarios/x.yaml:1:1: invalid YAML: nesting too deep (at most 32 levels)"


class TestStrategy:
    """check imports the strategy as the run does and validates its parameters."""

    def test_module_that_does_not_import(self) -> None:
        assert single(BASE.replace("runner.strategies.rebalance", "runner.strategies.nope")) == (
            "scenarios/x.yaml:9: strategy.module: expected an importable strategy module with "
            "decide_trades(timestamp, universe, state, pricing, parameters), found "
            "'runner.strategies.nope' (cannot import it: ModuleNotFoundError: No module named 'runner.strategies.nope')"
        )

    def test_module_without_decide_trades(self) -> None:
        assert single(BASE.replace("runner.strategies.rebalance", "runner.strategies")) == (
            "scenarios/x.yaml:9: strategy.module: expected an importable strategy module with "
            "decide_trades(timestamp, universe, state, pricing, parameters), found 'runner.strategies' "
            "(it has no decide_trades(timestamp, universe, state, pricing, parameters))"
        )

    def test_misspelt_parameter(self) -> None:
        """Today a misspelt ``wieghts`` was silently ignored."""
        assert single(BASE.replace("{cash_buffer: 5%}", "{wieghts: {WETH: 1}}")) == (
            "scenarios/x.yaml:9: strategy.parameters.wieghts: expected one of the keys weights, cash_buffer, "
            "tolerance, min_trade, found unknown key 'wieghts' (did you mean 'weights'?)"
        )

    def test_bad_parameter_value(self) -> None:
        """Today ``5x`` passed check and stopped the run with decimal.ConversionSyntax."""
        assert single(BASE.replace("5%", "5x")) == (
            "scenarios/x.yaml:9: strategy.parameters.cash_buffer: expected a percentage like 5% or a "
            "fraction like 0.05, found '5x'"
        )

    def test_weights_name_tradeable_tokens(self) -> None:
        assert single(BASE.replace("{cash_buffer: 5%}", "{weights: {WEHT: 1}}")) == (
            "scenarios/x.yaml:9: strategy.parameters.weights.WEHT: expected a token the strategy trades "
            "(WETH), found 'WEHT' (did you mean 'WETH'?)"
        )

    def test_set_parameter_name(self) -> None:
        text = BASE + "  - {at: 1d, set_parameter: {name: cash_bufer, value: 1%}}\n"
        assert single(text) == (
            "scenarios/x.yaml:12: timeline[1].set_parameter.name: expected a parameter of "
            "runner.strategies.rebalance (weights, cash_buffer, tolerance, min_trade), found 'cash_bufer' "
            "(did you mean 'cash_buffer'?)"
        )

    def test_set_parameter_value(self) -> None:
        text = BASE + "  - {at: 1d, set_parameter: {name: weights, value: {WETH: 70%, USDC: 40%}}}\n"
        assert lines(text) == [
            "scenarios/x.yaml:12: timeline[1].set_parameter.value.USDC: expected a token the strategy "
            "trades (WETH), found 'USDC'",
        ]

    def test_set_parameter_rule_of_the_model(self) -> None:
        """Rules spanning parameters hold for the overridden set too."""
        text = BASE.replace("{cash_buffer: 5%}", "{weights: {WETH: 60%}}").replace(
            "WETH: {}", "WETH: {}, WBTC: {}").replace(
            "depth: 2_000_000}", "depth: 2_000_000}\n    - {pair: WBTC/USDC, price: 1, depth: 1_000}")
        text += "  - {at: 1d, set_parameter: {name: weights, value: {WETH: 60%, WBTC: 50%}}}\n"
        assert single(text) == (
            "scenarios/x.yaml:13: timeline[1].set_parameter.value: expected weights summing to at most 100%, "
            "found weights summing to 110%"
        )
