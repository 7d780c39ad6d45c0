"""A state is believed only when intact and consistent: each invariant, planted with valid
checksums (as a faulty runner, or someone who recomputed the hashes, would leave it), is
caught on load with one line naming the file and the record."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from harness.cli import main
from runner.state import (
    SegmentedStateStore,
    StateFormatError,
    StateInvariantError,
    encode_state,
    open_store,
)
from tests.statefiles import forge_live, forge_segment, save_rich_state

Edit = Callable[[Path], None]
DATA = Path(__file__).resolve().parents[1] / "data"


def _live(edit: Callable[[dict[str, Any]], None]) -> Edit:
    return lambda path: forge_live(path, edit)


def _segment(name: str, edit: Callable[[list[dict[str, Any]]], list[dict[str, Any]]]) -> Edit:
    return lambda path: forge_segment(path, name, edit)


def _each(fn: Callable[[dict[str, Any]], None]) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
    def edit(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        fn(records[1] if len(records) > 1 else records[0])
        return records
    return edit


def _open(doc: dict[str, Any], pid: str = "1") -> dict[str, Any]:
    return doc["portfolio"]["open_positions"][pid]


def _negate(doc: dict[str, Any]) -> None:
    _open(doc)["quantity"] = "-" + _open(doc)["quantity"]


def _set(d: dict[str, Any], key: str, value: Any) -> Callable[[], None]:
    def go() -> None:
        d[key] = value
    return go


def _drop_in_flight(doc: dict[str, Any]) -> None:
    doc["portfolio"]["in_flight"] = {}


def _extra_in_flight(doc: dict[str, Any]) -> None:
    doc["portfolio"]["in_flight"]["1"] = 1


def _more_cash(doc: dict[str, Any]) -> None:
    doc["portfolio"]["reserve"]["quantity"] = "90870"


def _nan_cash(doc: dict[str, Any]) -> None:
    doc["portfolio"]["reserve"]["quantity"] = "NaN"


def _qty(doc: dict[str, Any]) -> None:
    _open(doc)["quantity"] = "9.0"


def _bu_total(doc: dict[str, Any]) -> None:
    _open(doc)["balance_update_total"] = "0.1"


def _counter(doc: dict[str, Any]) -> None:
    doc["portfolio"]["next_trade_id"] = 3


def _position_counter(doc: dict[str, Any]) -> None:
    doc["portfolio"]["next_position_id"] = 2


def _bu_counter(doc: dict[str, Any]) -> None:
    doc["portfolio"]["next_balance_update_id"] = 2


def _misfiled_position(doc: dict[str, Any]) -> None:
    positions = doc["portfolio"]["open_positions"]
    positions["7"] = positions.pop("3")


def _misfiled_trade(doc: dict[str, Any]) -> None:
    trades = _open(doc, "3")["trades"]
    tid = next(iter(trades))
    trades[tid]["position_id"] = 1


def _repaired_unknown(doc: dict[str, Any]) -> None:
    doc["repaired_trade_ids"].append(99)


def _redeem_too_much(path: Path) -> None:
    """A redemption larger than the cash, with the reserve booked to match: the books agree,
    the holding is negative."""
    def redemption(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        records[-1]["quantity"] = "-99000"
        return records

    forge_segment(path, "balance_updates", redemption)
    forge_live(path, lambda doc: doc["portfolio"]["reserve"].update(quantity="-17130"))


def _duplicate_update(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*records, records[0]]


def _duplicate_trade(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [*records, records[0]]


def _orphan_trade(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records[0]["position_id"] = 42
    return records


def _check_order(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [records[1], records[0], *records[2:]]


def _closed_negative(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records[0]["quantity"] = "-1"
    return records


def _wrong_type(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    records[1]["cycle"] = "two"
    return records


def _nan_stat(record: dict[str, Any]) -> None:
    record["nav"] = "NaN"


def _inf_update(record: dict[str, Any]) -> None:
    record["reserve_value"] = "Infinity"


def _booked_nowhere(record: dict[str, Any]) -> None:
    record["position_id"] = 9


def _huge(doc: dict[str, Any]) -> None:
    _open(doc)["cost_basis"] = "1E+999999999"


DEEP = b"[" * 5000 + b"]" * 5000  # deeper than msgspec follows: it raises RecursionError


def _deep(path: Path) -> None:
    forge_live(path, lambda doc: doc.update(parameters={"x": "DEEP"}), raw=lambda b: b.replace(b'"DEEP"', DEEP))


def _deep_record(path: Path) -> None:
    def mark(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        records[0]["status"] = "DEEP"
        return records

    forge_segment(path, "stats", mark, raw=lambda b: b.replace(b'"DEEP"', DEEP))


# (edit, what the message says, where it says it is)
CASES: dict[str, tuple[Edit, str, str]] = {
    "negated position quantity": (_live(_negate), "holds -8.0697 WETH: a holding cannot be negative",
                                  "state.json: open position #1"),
    "position quantity off": (_live(_qty), "its successful trades and balance updates add up to 8.0697",
                              "state.json: open position #1"),
    "balance update total off": (_live(_bu_total), "records balance updates [2] totalling 0.1",
                                 "state.json: open position #1"),
    "NaN reserve": (_live(_nan_cash), "reserve cash is NaN", "state.json: the reserve"),
    "cash from nowhere": (_live(_more_cash), "its recorded movements (reserve balance updates, sells, buys, "
                          "capital in flight) add up to 80870", "state.json: the reserve"),
    "in-flight index missing a buy": (_live(_drop_in_flight), "missing [8]", "state.json: the reserve"),
    "in-flight index naming a settled trade": (_live(_extra_in_flight), "not holding any [1]",
                                               "state.json: the reserve"),
    "trade id above the counter": (_live(_counter), "is not below the next id (3)", "trade #"),
    "position id above the counter": (_live(_position_counter), "is not below the next id (2)", "position #"),
    "balance update id above the counter": (_live(_bu_counter), "balance update #2 is not below the next id (2)",
                                            "balance_updates.1.jsonl: record 2"),
    "position filed under another id": (_live(_misfiled_position), "position #3 filed as #7",
                                        "state.json: open position #7"),
    "trade filed in another position": (_live(_misfiled_trade), "belongs to position #1 but is filed in position #3",
                                        "state.json: trade #8 of open position #3"),
    "repaired id of no trade": (_live(_repaired_unknown), "names trade #99", "state.json: the state"),
    "NaN in a statistics row": (_segment("stats", _each(_nan_stat)), "nav is NaN", "stats.1.jsonl: record 2"),
    "infinite balance update value": (_segment("balance_updates", _each(_inf_update)), "reserve_value is Infinity",
                                      "balance_updates.1.jsonl: record 2"),
    "update booked to no position": (_segment("balance_updates", _each(_booked_nowhere)),
                                     "booked to position #9, which the state does not hold",
                                     "balance_updates.1.jsonl: record 2"),
    "redemption beyond the cash": (_redeem_too_much, "plus capital in flight is -15130: a holding cannot be negative",
                                   "state.json: the reserve"),
    "balance update recorded twice": (_segment("balance_updates", _duplicate_update),
                                      "balance update #1 is recorded twice", "balance_updates.1.jsonl: record 4"),
    "settled trade recorded twice": (_segment("trades", _duplicate_trade), "is recorded twice",
                                     "trades.1.jsonl: record 7"),
    "settled trade of no position": (_segment("trades", _orphan_trade), "belongs to position #42",
                                     "trades.1.jsonl: record 1"),
    "accounting checks out of order": (_segment("checks", _check_order), "accounting check #2 is number 1",
                                       "checks.1.jsonl: record 1"),
    "closed position with negative holding": (_segment("closed_positions", _closed_negative),
                                              "holds -1 WBTC", "closed_positions.1.jsonl: record 1"),
    "a field of the wrong type": (_segment("stats", _wrong_type), "Expected `int`, got `str`",
                                  "stats.1.jsonl: record 2"),
    "an absurd exponent": (_live(_huge), "cost_basis is 1E+999999999, not a number an amount can be",
                           "state.json: open position #1"),
    "JSON nested 5000 deep in the live file": (_deep, "maximum recursion depth", "state.json"),
    "JSON nested 5000 deep in a record": (_deep_record, "Expected `str`, got `array`", "stats.1.jsonl: record 1"),
}


@pytest.fixture
def saved(tmp_path: Path, t0: datetime) -> Path:
    path = tmp_path / "state.json"
    save_rich_state(path, t0)
    return path


class TestInvariants:
    def test_the_untouched_state_and_an_identity_forgery_load(self, saved: Path) -> None:
        """The forger itself changes nothing: a resealed, unchanged state loads equal."""
        before = encode_state(open_store(saved).load())
        forge_live(saved, lambda doc: None)
        for name in ("stats", "checks", "balance_updates", "closed_positions", "trades"):
            forge_segment(saved, name, lambda records: records)
        assert encode_state(open_store(saved).load()) == before

    @pytest.mark.parametrize("case", sorted(CASES))
    def test_a_planted_fault_is_caught_and_located(self, saved: Path, case: str) -> None:
        edit, what, where = CASES[case]
        edit(saved)
        with pytest.raises(StateFormatError) as info:
            open_store(saved).load()
        message = str(info.value)
        assert what in message and where in message, message
        assert "\n" not in message
        if "Expected" not in what and "recursion" not in what:
            assert isinstance(info.value, StateInvariantError)

    def test_report_refuses_a_state_that_fails_an_invariant(self, saved: Path, tmp_path: Path,
                                                            capsys: pytest.CaptureFixture[str]) -> None:
        """The issue's case: a negated quantity gave exit 0 and "Residual: exactly zero"."""
        forge_live(saved, _negate)
        code = main(["report", str(saved), "--out", str(tmp_path / "report")])
        err = capsys.readouterr().err
        assert code == 1
        assert err.count("\n") == 1 and f"{saved}: open position #1" in err and "Traceback" not in err
        assert not (tmp_path / "report").exists()

    def test_the_plain_store_checks_invariants_too(self, tmp_path: Path, t0: datetime) -> None:
        """A one-file state (no checksum) is still checked for consistency."""
        from runner.state import StateStore
        from tests.statefiles import rich_states

        state = rich_states(t0)[-1]
        state.portfolio.open_positions[1].quantity = -state.portfolio.open_positions[1].quantity
        StateStore(tmp_path / "plain.json").save(state)
        with pytest.raises(StateInvariantError, match=r"plain\.json: position #1: .* cannot be negative"):
            open_store(tmp_path / "plain.json").load()


class TestFormats:
    def test_old_segmented_state_loads_and_is_migrated_on_save(self, tmp_path: Path, t0: datetime) -> None:
        """A `segmented-1` state (the previous format, no checksums) is read and checked; the
        next save writes it as a checksummed generation and removes the old segments."""
        import shutil

        from tests.statefiles import rich_states

        shutil.copytree(DATA / "segmented-1", tmp_path / "old")
        path = tmp_path / "old" / "state.json"
        store = open_store(path)
        loaded = store.load()
        assert loaded.universe is None  # not recorded then
        # msgspec leaves a missing field's default on the class: give it to the instance, to encode it
        loaded.universe = None
        assert loaded.pending_fulfilment is None  # added after segmented-1 too
        loaded.pending_fulfilment = None
        for check in loaded.accounting_checks:
            for row in check.rows:
                row.value_difference = row.value_difference  # added after segmented-1
        assert encode_state(loaded) == encode_state(rich_states(t0)[-1])
        store.save(loaded)
        assert sorted(p.name for p in (tmp_path / "old" / "state.json.d").iterdir()) == [
            "balance_updates.1.jsonl", "checks.1.jsonl", "closed_positions.1.jsonl", "stats.1.jsonl",
            "trades.1.jsonl"]
        assert encode_state(open_store(path).load()) == encode_state(loaded)

    def test_an_old_state_that_fails_an_invariant_is_refused(self, tmp_path: Path) -> None:
        """Without checksums to catch it, the invariants do: a negated quantity in an old file."""
        import shutil

        shutil.copytree(DATA / "segmented-1", tmp_path / "old")
        path = tmp_path / "old" / "state.json"
        path.write_bytes(path.read_bytes().replace(b'"quantity":"8.0697"', b'"quantity":"-8.0697"', 1))
        with pytest.raises(StateInvariantError, match=r"state\.json: open position #1: .*cannot be negative"):
            open_store(path).load()

    def test_deep_json_without_a_seal_is_refused_not_a_traceback(self, saved: Path) -> None:
        saved.write_bytes(b'{"x":' + DEEP + b"}")
        with pytest.raises(StateFormatError, match=r"state\.json: damaged or truncated: .*recursion"):
            open_store(saved).load()

    def test_other_schema_versions_and_formats_are_refused_clearly(self, saved: Path) -> None:
        forge_live(saved, lambda doc: doc.update(schema_version=2))
        with pytest.raises(StateFormatError, match=r"state\.json: schema_version 2, this runner reads 1"):
            open_store(saved).load()
        saved.write_bytes(b'{"format":"segmented-9","state":{}}')
        with pytest.raises(StateFormatError, match="unknown state format 'segmented-9'"):
            open_store(saved).load()

    def test_a_fresh_store_never_touches_the_committed_generation(self, saved: Path, t0: datetime) -> None:
        """A new run into a used directory writes generation 2 beside generation 1, and
        removes generation 1 only after its own state file is committed (the rename)."""
        from runner.state import files
        from tests.statefiles import count_ops, rich_states

        log = count_ops()
        try:
            SegmentedStateStore(saved).save(rich_states(t0)[0])
        finally:
            files.fault_hook = None
        ops = log()
        commit = ops.index(("rename", "state.json"))
        assert all(".1." not in name for _op, name in ops[:commit]), ops  # generation 1 untouched...
        assert {name for op, name in ops[commit:] if op == "unlink"} == {
            f"{n}.1.jsonl" for n in ("stats", "checks", "balance_updates", "closed_positions", "trades")}
        assert sorted(p.name for p in saved.with_name("state.json.d").iterdir()) == [
            "balance_updates.2.jsonl", "checks.2.jsonl", "stats.2.jsonl", "trades.2.jsonl"]
        assert open_store(saved).load().cycle == 1


def test_deep_json_is_an_error_even_when_the_recursion_limit_is_raised(tmp_path: Path) -> None:
    """py-evm's dependencies raise the recursion limit to 100,000: a state file nested that
    deep must still be one line, not a C stack overflow (a segfault). In a subprocess, so a
    crash could not take the test run with it."""
    import subprocess
    import sys

    path = tmp_path / "state.json"
    path.write_bytes(b'{"x":' + b"[" * 99_000 + b"]" * 99_000 + b"}")
    code = ("import sys; sys.setrecursionlimit(100_000); from harness.cli import main; "
            "sys.exit(main(['report', sys.argv[1], '--out', sys.argv[2]]))")
    done = subprocess.run([sys.executable, "-c", code, str(path), str(tmp_path / "report")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 1, (done.returncode, done.stderr[-500:])
    assert done.stderr.count("\n") == 1 and "recursion" in done.stderr and str(path) in done.stderr


class TestBooksKnownOffTheChain:
    """A negative reserve is what a forger plants, unless the books are known to be off
    the chain: then it is what a redemption paid from funds the books never saw leaves
    (fuzz seed 11 run 12, scenarios/regressions/invariant-state-round-trip-s11-r12.yaml)."""

    @staticmethod
    def _last_check_flags_the_reserve(corrected: bool) -> Callable[[list[dict[str, Any]]], list[dict[str, Any]]]:
        def edit(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            row = next(r for r in records[-1]["rows"] if r["asset"] == "USDC")
            row.update(verdict="mismatch", correction_id=7 if corrected else None)
            return records
        return edit

    def test_a_reported_reserve_mismatch_lets_the_books_go_negative(self, saved: Path) -> None:
        _redeem_too_much(saved)
        forge_segment(saved, "checks", self._last_check_flags_the_reserve(corrected=False))
        assert open_store(saved).load().portfolio.reserve.quantity == Decimal(-17130)

    def test_a_corrected_one_does_not(self, saved: Path) -> None:
        """Corrected, the books were brought back to the chain: a negative reserve after
        that is a forgery again."""
        _redeem_too_much(saved)
        forge_segment(saved, "checks", self._last_check_flags_the_reserve(corrected=True))
        with pytest.raises(StateInvariantError, match="plus capital in flight is -15130: a holding cannot be negative"):
            open_store(saved).load()
