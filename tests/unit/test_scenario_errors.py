"""Bad scenario input gives exact, located messages (file, line, key, expected, found)."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import yaml

from harness.errors import (
    BackendUnavailable,
    ExpectationFailed,
    HarnessError,
    ScenarioError,
    ScenarioErrors,
    ScenarioRuntimeError,
    ScenarioSyntaxError,
)
from harness.scenario import load_scenario, parse_scenario_text
from harness.scenario.yamlnodes import compose_text

FILE = "scenarios/x.yaml"

# Line numbers matter below: name=1 ... pools entry=8, strategy=9, appended text from 10.
BASE = """\
name: base
description: minimal valid scenario
clock: {start: 2024-01-01T00:00:00Z, cycle: 1d, until: 10d}
universe:
  reserve: USDC
  tokens: {USDC: {decimals: 6}, WETH: {}, stETH: {rebasing: true}}
  pools:
    [{pair: WETH/USDC, price: 2000, depth: 2_000_000}, {pair: stETH/USDC, price: 2000, depth: 1_000_000}]
strategy: {module: runner.strategies.rebalance}
"""


def messages(text: str) -> list[str]:
    """The error lines a scenario produces (fails the test when it parses)."""
    with pytest.raises((ScenarioError, ScenarioErrors)) as info:
        parse_scenario_text(text, FILE)
    return str(info.value).splitlines()


def single(text: str) -> str:
    """The one error message a scenario produces."""
    with pytest.raises(ScenarioError) as info:
        parse_scenario_text(text, FILE)
    return str(info.value)


class TestBaseIsValid:
    """The base used by the other tests parses, so each failure is the edit's fault."""

    def test_base_parses(self) -> None:
        """The unmodified base scenario is valid."""
        assert parse_scenario_text(BASE, FILE).name == "base"


class TestKeyErrors:
    """Unknown, missing and duplicate keys are reported where they are."""

    def test_unknown_key_with_suggestion(self) -> None:
        """A misspelt key lists the allowed keys and suggests the closest one."""
        text = BASE.replace("until: 10d}", "until: 10d, trigger_check: 1h}")
        assert single(text) == (
            "scenarios/x.yaml:3: clock.trigger_check: expected one of the keys start, cycle, "
            "trigger_checks, until, found unknown key 'trigger_check' "
            "(did you mean 'trigger_checks'?)"
        )

    def test_missing_key(self) -> None:
        """A missing required key is reported at its mapping with 'key missing'."""
        text = BASE.replace("cycle: 1d, ", "")
        assert single(text) == (
            "scenarios/x.yaml:3: clock.cycle: expected a duration like 90s, 15m, 1d12h, "
            "found nothing (key missing)"
        )

    def test_duplicate_key_names_both_lines(self) -> None:
        """A key given twice is an error at the second, naming the first line."""
        assert single(BASE + "seed: 1\nseed: 2\n") == (
            "scenarios/x.yaml:11: seed: expected each key at most once in a mapping, "
            "found a second 'seed' (first at line 10)"
        )

    def test_unknown_event_kind_lists_kinds(self) -> None:
        """An unknown event key lists every known kind and suggests the closest."""
        assert single(BASE + "timeline: [{at: 1d, deposti: {amount: 1}}]\n") == (
            "scenarios/x.yaml:10: timeline[0].deposti: expected a mapping with at and one "
            "event kind (deposit, withdraw, rebase, interest, price_shock, fail_next_trade, "
            "external_transfer, external_tx, crash, set_parameter, note, mempool, node_fault, wire_fault, node_restart, reorg), found unknown key 'deposti' "
            "(did you mean 'deposit'?)"
        )

    def test_two_event_kinds_in_one_entry(self) -> None:
        """An entry naming two kinds is refused at the second."""
        text = BASE + "timeline: [{at: 1d, note: hi, crash: confirm}]\n"
        assert single(text) == (
            "scenarios/x.yaml:10: timeline[0].crash: expected one event kind per entry, "
            "found 'crash' besides 'note'"
        )

    def test_wrong_literal_suggests(self) -> None:
        """A wrong choice lists the choices and suggests the closest."""
        assert single(BASE + "accounting: {on_mismatch: reprot}\n") == (
            "scenarios/x.yaml:10: accounting.on_mismatch: expected one of 'abort', 'correct', "
            "'report', found 'reprot' (did you mean 'report'?)"
        )


class TestValueErrors:
    """Badly written values say what was expected and echo what was found."""

    def test_bad_duration(self) -> None:
        """A duration with an unknown unit shows the accepted spellings."""
        assert single(BASE.replace("cycle: 1d", "cycle: 1x")) == (
            "scenarios/x.yaml:3: clock.cycle: expected a duration like 90s, 15m, 1d12h, found '1x'"
        )

    def test_zero_cycle(self) -> None:
        """Zero is only allowed where a field says so; cycle does not."""
        assert single(BASE.replace("cycle: 1d", "cycle: 0s")) == (
            "scenarios/x.yaml:3: clock.cycle: expected a positive duration, found '0s'"
        )

    def test_naive_start(self) -> None:
        """A start without a timezone is refused."""
        text = BASE.replace("2024-01-01T00:00:00Z", "2024-01-01T00:00:00")
        assert single(text) == (
            "scenarios/x.yaml:3: clock.start: expected a datetime with a timezone, "
            "found '2024-01-01T00:00:00'"
        )

    def test_negative_deposit(self) -> None:
        """A negative deposit amount is refused with the number as written."""
        text = BASE + "timeline:\n  - {at: 0s, note: a}\n  - {at: 0s, deposit: {amount: -5}}\n"
        assert single(text) == (
            "scenarios/x.yaml:12: timeline[1].deposit.amount: expected a positive amount, found -5"
        )

    def test_zero_deposit(self) -> None:
        """A zero deposit is refused too."""
        assert single(BASE + "timeline: [{at: 0s, deposit: {amount: 0}}]\n") == (
            "scenarios/x.yaml:10: timeline[0].deposit.amount: expected a positive amount, found 0"
        )

    def test_fee_out_of_range(self) -> None:
        """Percent bounds are printed as percentages."""
        text = BASE.replace("depth: 2_000_000}", "depth: 2_000_000, fee: 12%}")
        assert single(text) == (
            "scenarios/x.yaml:8: universe.pools[0].fee: expected a percentage >= 0% and < 10%, "
            "found '12%'"
        )

    def test_wrong_container_type(self) -> None:
        """A scalar where a mapping belongs lists the mapping's keys."""
        assert single(
            BASE.replace("strategy: {module: runner.strategies.rebalance}", "strategy: x")
        ) == (
            "scenarios/x.yaml:9: strategy: expected a mapping with keys module, parameters, found 'x'"
        )

    def test_string_where_bool_belongs(self) -> None:
        """Only true and false are booleans; yes is not."""
        text = BASE.replace("stETH: {rebasing: true}", "stETH: {rebasing: yes}")
        assert single(text) == (
            "scenarios/x.yaml:6: universe.tokens.stETH.rebasing: expected true or false, found 'yes'"
        )

    def test_empty_document(self) -> None:
        """An empty file says what a scenario must contain."""
        assert single("") == (
            "scenarios/x.yaml:1: expected a mapping with keys name, description, seed, clock, "
            "chain, universe, strategy, accounting, vault, invariants, investors, timeline, expect, "
            "found an empty document"
        )


class TestReferenceErrors:
    """Names that must refer to something declared elsewhere in the file are checked."""

    def test_pair_not_in_universe(self) -> None:
        """An event pair must be a declared pool; the pools are listed."""
        text = BASE + "timeline: [{at: 1d, price_shock: {pair: WBTC/USDC, move: -30%}}]\n"
        assert single(text) == (
            "scenarios/x.yaml:10: timeline[0].price_shock.pair: expected a pool of the "
            "universe (WETH/USDC, stETH/USDC), found 'WBTC/USDC' (did you mean 'WETH/USDC'?)"
        )

    def test_reversed_pair_is_not_the_pool(self) -> None:
        """Pairs match exactly as declared, with the declared spelling suggested."""
        text = BASE + "expect: [{at: end, position: {pair: USDC/WETH}}]\n"
        assert single(text) == (
            "scenarios/x.yaml:10: expect[0].position.pair: expected a pool of the universe "
            "(WETH/USDC, stETH/USDC), found 'USDC/WETH' (did you mean 'WETH/USDC'?)"
        )

    def test_event_after_until(self) -> None:
        """Nothing may happen after clock.until."""
        assert single(BASE + "timeline: [{at: 11d, note: too late}]\n") == (
            "scenarios/x.yaml:10: timeline[0].at: expected a time not after clock.until (10d), "
            "found '11d'"
        )

    def test_event_before_start(self) -> None:
        """An absolute time before clock.start is refused."""
        text = BASE + "timeline: [{at: 2023-12-31T00:00:00Z, note: early}]\n"
        assert single(text) == (
            "scenarios/x.yaml:10: timeline[0].at: expected a time not before clock.start "
            "(2024-01-01T00:00:00Z), found '2023-12-31T00:00:00Z'"
        )

    def test_reserve_not_in_tokens(self) -> None:
        """The reserve must be one of the tokens."""
        assert single(BASE.replace("reserve: USDC", "reserve: DAI")) == (
            "scenarios/x.yaml:5: universe.reserve: expected a token of the universe "
            "(USDC, WETH, stETH), found 'DAI'"
        )

    def test_pool_symbol_not_in_tokens(self) -> None:
        """Both sides of a pool must be declared tokens."""
        assert single(BASE.replace("pair: WETH/USDC", "pair: WBTC/USDC")) == (
            "scenarios/x.yaml:8: universe.pools[0].pair: expected a pair of tokens of the "
            "universe (USDC, WETH, stETH), found 'WBTC/USDC'"
        )

    def test_rebase_needs_rebasing_token(self) -> None:
        """Rebasing a token not declared rebasing says how to fix it."""
        text = BASE + "timeline: [{at: 1d, rebase: {token: WETH, change: 1%}}]\n"
        assert single(text) == (
            "scenarios/x.yaml:10: timeline[0].rebase.token: expected a rebasing token "
            "(stETH; set rebasing: true on WETH), found 'WETH'"
        )

    def test_by_must_be_an_investor(self) -> None:
        """``by`` must name an investor."""
        text = BASE + "timeline: [{at: 1d, deposit: {amount: 1, by: bob}}]\n"
        assert single(text) == (
            "scenarios/x.yaml:10: timeline[0].deposit.by: expected an investor (alice), found 'bob'"
        )


class TestCrossFieldErrors:
    """Rules spanning several fields point at the field to change."""

    def test_price_shock_needs_exactly_one(self) -> None:
        """A price shock with both move and price is refused at the second."""
        text = BASE + "timeline: [{at: 1d, price_shock: {pair: WETH/USDC, move: 1%, price: 5}}]\n"
        assert single(text) == (
            "scenarios/x.yaml:10: timeline[0].price_shock.price: expected exactly one of "
            "move or price, found both"
        )

    def test_withdraw_needs_shares(self) -> None:
        """A withdrawal without shares says both accepted forms."""
        assert single(BASE + "timeline: [{at: 1d, withdraw: {by: alice}}]\n") == (
            "scenarios/x.yaml:10: timeline[0].withdraw.shares: expected a share fraction like "
            "50% or a share amount like 12.5, found nothing (key missing)"
        )

    def test_fork_fields_need_fork_backend(self) -> None:
        """fork_block without anvil-fork is refused."""
        assert single(BASE + "chain: {backend: anvil, fork_block: 5}\n") == (
            "scenarios/x.yaml:10: chain.fork_block: expected no fork_block unless backend is "
            "anvil-fork, found 5"
        )

    def test_fork_backend_needs_url_and_block(self) -> None:
        """anvil-fork without a URL and block reports both."""
        assert messages(BASE + "chain: {backend: anvil-fork}\n") == [
            "scenarios/x.yaml:10: chain.fork_url: expected an RPC URL (required when backend "
            "is anvil-fork), found nothing (key missing)",
            "scenarios/x.yaml:10: chain.fork_block: expected a block number (required when "
            "backend is anvil-fork), found nothing (key missing)",
        ]

    def test_trigger_checks_shorter_than_cycle(self) -> None:
        """Trigger checks must run more often than cycles."""
        text = BASE.replace("cycle: 1d,", "cycle: 1d, trigger_checks: 2d,")
        assert single(text) == (
            "scenarios/x.yaml:3: clock.trigger_checks: expected a duration shorter than cycle "
            "(1d), found '2d'"
        )


INVARIANT_NAMES = ("'booked-once', 'chain-truth-nav', 'costs-as-charged', 'fair-shares', 'ledger-equals-chain', "
                   "'nothing-unfinished', 'repair-idempotent', 'state-round-trip', 'trades-match-chain', 'triggers-fire'")


class TestInvariantsBlockErrors:
    """The `invariants:` block and `violation` expectations name invariants exactly, with reasons."""

    def test_unknown_invariant_name_suggests(self) -> None:
        """A misspelt invariant lists every name and suggests the closest, at its own line."""
        text = BASE + "invariants:\n  skip:\n    - {name: booked-twice, reason: not here}\n"
        assert single(text) == (
            f"scenarios/x.yaml:12: invariants.skip[0].name: expected one of {INVARIANT_NAMES}, "
            "found 'booked-twice' (did you mean 'booked-once'?)"
        )

    def test_skip_without_reason(self) -> None:
        """Skipping an invariant needs a reason: a missing one is a missing key."""
        text = BASE + "invariants:\n  skip:\n    - {name: fair-shares}\n"
        assert single(text) == (
            "scenarios/x.yaml:12: invariants.skip[0].reason: expected a string, found nothing (key missing)"
        )

    def test_empty_reason(self) -> None:
        """An empty reason is no reason."""
        text = BASE + "invariants: {skip: [{name: fair-shares, reason: ''}]}\n"
        assert single(text) == (
            "scenarios/x.yaml:10: invariants.skip[0].reason: expected a non-empty string, found ''"
        )

    def test_invariant_skipped_twice(self) -> None:
        """Each invariant is skipped at most once; the second names the first."""
        text = BASE + "invariants:\n  skip:\n    - {name: fair-shares, reason: a}\n    - {name: fair-shares, reason: b}\n"
        assert single(text) == (
            "scenarios/x.yaml:13: invariants.skip[1].name: expected each invariant at most once, "
            "found 'fair-shares' again (first as skip[0])"
        )

    def test_misspelt_block_key(self) -> None:
        """The block's only key is skip."""
        assert single(BASE + "invariants: {skp: []}\n") == (
            "scenarios/x.yaml:10: invariants.skp: expected one of the keys skip, found unknown key 'skp' "
            "(did you mean 'skip'?)"
        )

    def test_violation_expectation_names_an_invariant(self) -> None:
        """`expect: {violation: NAME}` is checked against the same names."""
        text = BASE + "expect:\n  - {at: 1d, violation: ledger-equals-chian}\n"
        assert single(text) == (
            f"scenarios/x.yaml:11: expect[0].violation: expected one of {INVARIANT_NAMES}, "
            "found 'ledger-equals-chian' (did you mean 'ledger-equals-chain'?)"
        )


class TestSyntaxErrors:
    """YAML that does not parse becomes a located ScenarioSyntaxError, never a traceback."""

    def test_unterminated_quote(self) -> None:
        """The parser's problem, line and column are reported."""
        with pytest.raises(ScenarioSyntaxError) as info:
            parse_scenario_text("name: 'unterminated\n", FILE)
        error = info.value
        assert (error.file, error.line, error.column) == (FILE, 2, 1)
        assert str(error) == (
            "scenarios/x.yaml:2:1: invalid YAML: found unexpected end of stream "
            "(while scanning a quoted scalar at line 1)"
        )

    @pytest.mark.parametrize("loader", [yaml.SafeLoader, getattr(yaml, "CSafeLoader", None)])
    def test_both_loaders_give_located_errors(self, loader: type | None) -> None:
        """The pure-Python and libyaml loaders both give file, line and column."""
        if loader is None:
            pytest.skip("PyYAML was built without libyaml")
        with pytest.raises(ScenarioSyntaxError) as info:
            compose_text("a: 1\nb: [1, 2\nc: 3\n", FILE, loader=loader)
        assert (info.value.line, info.value.column) == (3, 2)
        assert str(info.value).startswith("scenarios/x.yaml:3:2: invalid YAML: ")

    def test_two_documents(self) -> None:
        """A second document is a syntax error at its start."""
        with pytest.raises(ScenarioSyntaxError) as info:
            parse_scenario_text(BASE + "---\nname: other\n", FILE)
        assert str(info.value) == (
            "scenarios/x.yaml:10:1: invalid YAML: but found another document "
            "(expected a single document in the stream at line 1)"
        )

    def test_syntax_error_is_a_scenario_error(self) -> None:
        """Callers catching ScenarioError (or ValueError) also catch syntax errors."""
        with pytest.raises(ValueError):
            parse_scenario_text("a: [\n", FILE)


class TestCollectedErrors:
    """All problems of a file are reported together, in line order."""

    def test_multiple_errors_in_line_order(self) -> None:
        """Errors found in any order are listed by line, one per line."""
        text = (
            BASE.replace("cycle: 1d", "cycle: soon").replace("reserve: USDC", "reserve: DAI")
            + "seed: -1\n"
            + "timeline: [{at: 0s, deposit: {amount: -5}}]\n"
        )
        with pytest.raises(ScenarioErrors) as info:
            parse_scenario_text(text, FILE)
        assert [error.line for error in info.value.errors] == [3, 5, 10, 11]
        assert str(info.value).splitlines() == [
            "scenarios/x.yaml:3: clock.cycle: expected a duration like 90s, 15m, 1d12h, "
            "found 'soon'",
            "scenarios/x.yaml:5: universe.reserve: expected a token of the universe "
            "(USDC, WETH, stETH), found 'DAI'",
            "scenarios/x.yaml:10: seed: expected a non-negative integer, found -1",
            "scenarios/x.yaml:11: timeline[0].deposit.amount: expected a positive amount, found -5",
        ]

    def test_yaml_and_model_errors_together(self) -> None:
        """A duplicate key and a model error in the same file are both reported."""
        text = BASE + "seed: 1\nseed: 2\ninvestors: []\n"
        assert [line.split(": ")[1] for line in messages(text)] == ["seed", "investors"]

    def test_single_error_is_not_wrapped(self) -> None:
        """Exactly one problem raises that ScenarioError itself, with its fields."""
        with pytest.raises(ScenarioError) as info:
            parse_scenario_text(BASE.replace("cycle: 1d", "cycle: 1x"), FILE)
        error = info.value
        assert type(error) is ScenarioError
        assert (error.file, error.line, error.key) == (FILE, 3, "clock.cycle")
        assert (error.expected, error.found) == ("a duration like 90s, 15m, 1d12h", "'1x'")

    def test_errors_survive_pickling(self) -> None:
        """Errors cross process boundaries (xdist, multiprocessing) intact."""
        with pytest.raises(ScenarioErrors) as info:
            parse_scenario_text(BASE + "seed: -1\ninvestors: []\n", FILE)
        copy = pickle.loads(pickle.dumps(info.value))
        assert str(copy) == str(info.value)
        assert [e.key for e in copy.errors] == ["seed", "investors"]


class TestLoadErrors:
    """Errors from files name the path exactly as the caller gave it."""

    def test_relative_path_is_kept(self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        """A relative path appears unchanged in the message."""
        monkeypatch.chdir(tmp_path)
        (tmp_path / "scenarios").mkdir()
        (tmp_path / "scenarios" / "x.yaml").write_text(BASE.replace("cycle: 1d", "cycle: 1x"))
        with pytest.raises(ScenarioError) as info:
            load_scenario("scenarios/x.yaml")
        assert str(info.value).startswith("scenarios/x.yaml:3: clock.cycle: ")

    def test_not_utf8(self, tmp_path: Path) -> None:
        """Bytes that are not UTF-8 are a syntax error at their line."""
        path = tmp_path / "latin1.yaml"
        path.write_bytes(b"name: ok\ndescription: caf\xe9\n")
        with pytest.raises(ScenarioSyntaxError) as info:
            load_scenario(path)
        assert str(info.value) == (
            f"{path}:2:17: invalid YAML: the file is not UTF-8 text (byte 0xe9)"
        )

    def test_missing_file(self, tmp_path: Path) -> None:
        """A file that cannot be read is a ScenarioError naming it."""
        path = tmp_path / "absent.yaml"
        with pytest.raises(ScenarioError) as info:
            load_scenario(path)
        assert str(info.value) == (
            f"{path}: expected a readable scenario file, found No such file or directory"
        )


class TestErrorFormatting:
    """The other harness errors format their fields predictably."""

    def test_error_tree(self) -> None:
        """Every error is a HarnessError; input errors are also ValueErrors."""
        assert issubclass(ScenarioSyntaxError, ScenarioError)
        assert issubclass(ScenarioErrors, ValueError) and issubclass(ScenarioErrors, HarnessError)
        for cls in (ScenarioRuntimeError, ExpectationFailed, BackendUnavailable):
            assert issubclass(cls, HarnessError) and not issubclass(cls, ValueError)

    def test_runtime_and_expectation_messages(self) -> None:
        """Runtime and expectation errors read file:line: [key:] message."""
        runtime = ScenarioRuntimeError(FILE, 12, "timeline[3].withdraw", "alice holds no shares")
        assert str(runtime) == "scenarios/x.yaml:12: timeline[3].withdraw: alice holds no shares"
        failed = ExpectationFailed(FILE, 20, "position WETH/USDC is open, expected closed")
        assert str(failed) == "scenarios/x.yaml:20: position WETH/USDC is open, expected closed"

    def test_backend_unavailable_carries_hint(self) -> None:
        """The install hint is part of the message."""
        error = BackendUnavailable("anvil", "anvil not found on PATH", "run npm ci")
        assert str(error) == (
            "chain backend 'anvil' is unavailable: anvil not found on PATH (hint: run npm ci)"
        )
        assert error.hint == "run npm ci"

    def test_unknown_line(self) -> None:
        """Without a line the message starts with the file alone."""
        assert str(ScenarioError("f.yaml", None, "k", "x", "y")) == "f.yaml: k: expected x, found y"
