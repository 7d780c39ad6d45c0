"""A universe adopted by address: read and checked on the chain, never deployed; the runner
sending as a foreign asset manager by impersonation; forks of an RPC URL; `--rpc`.

One "mainnet" for the module: real-mainnet-history.yaml run on a local anvil (the real
Uniswap v2 and v3 and an ERC-4626 vault, with open positions). The adopted scenario's
literal addresses are held to what that history deploys, so the file cannot rot.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from harness.chains import ChainHoldsAWorld, ChainPool, accounts_for, world_spec
from harness.cli import main
from harness.engine import ScenarioRun
from harness.errors import ScenarioError, ScenarioRuntimeError
from harness.forks import redact_url
from harness.protocols.adopt import AdoptionMismatch, adopt_world
from harness.protocols.scenario_world import ProtocolScenarioWorld
from harness.scenario import load_scenario, parse_scenario_text
from harness.snapshot import render, snapshot_document
from runner.chain.abi import artifact
from runner.chain.client import ChainClient
from runner.chain.node import RpcBackend
from runner.chain.wallet import ImpersonatedWallet, KeyNotHeld, Wallet, checksum
from runner.errors import CannotImpersonate
from runner.universe import Dex

pytestmark = pytest.mark.anvil

ROOT = Path(__file__).resolve().parents[2]
FORK_DIR = ROOT / "scenarios" / "fork"
HISTORY = FORK_DIR / "real-mainnet-history.yaml"
ADOPTED = FORK_DIR / "adopted-universe-open-positions.yaml"
SNAPSHOT = ROOT / "snapshots" / "adopted-universe-open-positions.json"
FORK_CHAIN = 'chain: {backend: anvil-fork, fork_url: "scenario:real-mainnet-history.yaml", fork_block: 23}'
ON_THE_NODE = "chain: {backend: anvil}"  # the adopted world where it is (harness run --rpc)


@dataclass
class Mainnet:
    pool: ChainPool
    url: str
    world: ProtocolScenarioWorld


@pytest.fixture(scope="module")
def mainnet() -> Iterator[Mainnet]:
    """The history run to its end on its own anvil, which stays up (head: block 25)."""
    history = load_scenario(HISTORY)
    pool = ChainPool()
    try:
        result = ScenarioRun(history, backend="anvil", pool=pool).run()
        assert result.error is None and all(e.passed for e in result.expectations)
        world = pool.deployed_universe("anvil", world_spec(history))
        assert isinstance(world, ProtocolScenarioWorld)
        yield Mainnet(pool, pool.node_url, world)
    finally:
        pool.close()


def variant(tmp_path: Path, old: str, new: str, *, chain: str = ON_THE_NODE) -> Path:
    """The adopted scenario with one change, written beside a copy of its history."""
    text = ADOPTED.read_text()
    assert text.count(FORK_CHAIN) == 1 and (old == "" or text.count(old) == 1), old
    text = text.replace(FORK_CHAIN, chain).replace(old, new) if old else text.replace(FORK_CHAIN, chain)
    (tmp_path / HISTORY.name).write_text(HISTORY.read_text())
    path = tmp_path / "variant.yaml"
    path.write_text(text)
    return path


def adopt_on(mainnet: Mainnet, path: Path) -> ProtocolScenarioWorld:
    scenario = load_scenario(path)
    accounts = accounts_for(scenario)
    chain = ChainPool(anvil_url=mainnet.url).existing_chain(accounts)
    return adopt_world(chain, accounts, scenario)


def line_of(path: Path, text: str) -> int:
    return next(n for n, line in enumerate(path.read_text().splitlines(), 1) if text in line)


# -- the literal addresses ----------------------------------------------------------------
def test_the_history_deploys_exactly_where_the_fork_scenario_adopts(mainnet: Mainnet) -> None:
    """Every address written in adopted-universe-open-positions.yaml is the history's own."""
    adopt = load_scenario(ADOPTED).universe
    assert adopt.adopt is not None
    u, p = mainnet.world.universe, mainnet.world.protocol
    assert p is not None and p.v2 is not None and p.v3 is not None
    written = {
        "vault": adopt.adopt.vault, "asset_manager": adopt.adopt.asset_manager, "multicall": adopt.adopt.multicall,
        "v2 factory": adopt.adopt.uniswap_v2.factory if adopt.adopt.uniswap_v2 else None,
        "v2 router": adopt.adopt.uniswap_v2.router if adopt.adopt.uniswap_v2 else None,
        "v3 factory": adopt.adopt.uniswap_v3.factory if adopt.adopt.uniswap_v3 else None,
        "v3 router": adopt.adopt.uniswap_v3.router if adopt.adopt.uniswap_v3 else None,
        "v3 quoter": adopt.adopt.uniswap_v3.quoter if adopt.adopt.uniswap_v3 else None,
        **{f"token {s}": t.address for s, t in adopt.tokens.items()},
        **{f"pool {q.pair}": q.address for q in adopt.pools},
    }
    deployed = {
        "vault": u.vault, "asset_manager": mainnet.world.accounts.asset_manager.address, "multicall": u.multicall,
        "v2 factory": p.v2.factory, "v2 router": p.v2.router, "v3 factory": p.v3.factory,
        "v3 router": p.v3.swap_router, "v3 quoter": p.v3.view_quoter,
        **{f"token {s}": t.address for s, t in u.tokens.items()},
        **{f"pool {name}": q.address for name, q in u.pools.items()},
    }
    assert written == {k: checksum(v) for k, v in deployed.items()}


def test_the_adopted_manager_is_not_a_key_the_fork_holds(mainnet: Mainnet, tmp_path: Path) -> None:
    """The history's manager key derives from its own label; the fork's cast has none for it."""
    world = adopt_on(mainnet, variant(tmp_path, "", ""))
    manager = mainnet.world.accounts.asset_manager.address
    assert world.impersonate == manager
    assert manager not in {w.address for w in world.accounts.all()}
    u = world.universe
    assert {s: t.decimals for s, t in u.tokens.items()} == {"USDC": 6, "WETH": 18, "WBTC": 8}
    assert {n: (q.dex, q.fee_pips) for n, q in u.pools.items()} == {
        "WETH/USDC": (Dex.uniswap_v3, 500), "WBTC/USDC": (Dex.uniswap_v2, 3000)}
    assert u.routers == mainnet.world.universe.routers and u.v3_quoter == mainnet.world.universe.v3_quoter


def test_decimals_left_out_are_read_from_the_chain(mainnet: Mainnet, tmp_path: Path) -> None:
    """An author who pastes only addresses gets the token's own decimals (checked only when written)."""
    path = variant(tmp_path, "USDC: {decimals: 6, address:", "USDC: {address:")
    assert "decimals" not in load_scenario(path).universe.tokens["USDC"].model_fields_set
    assert adopt_on(mainnet, path).universe.tokens["USDC"].decimals == 6


# -- what the chain holds is not what the scenario says ---------------------------------------
V3_POOL = "0x611B9964a1DcaEf1B697cD348EB25B1b44991303"
WBTC = "0x86504BCe275cE5D0B76395811eEdca3A3E5D2ECe"
WETH = "0xCB459a9E7a4dAb22b0C9CF689Bc6228E61E051c8"
V2_ROUTER = "0x6c6600B82d71c1Ee8be86Cf18878a29ede970254"
MANAGER = "0x1a3668E889D0Eb9ccbE21740a114D9b7bB63bdF4"
NOBODY = "0x000000000000000000000000000000000000dEaD"

MISMATCHES = {
    "v3 fee tier": (
        "dex: uniswap-v3, fee: 0.05%", "dex: uniswap-v3, fee: 0.3%", "pair: WETH/USDC",
        rf"universe\.pools\[0\]\.address {V3_POOL}: expected a Uniswap v3 pool of WETH/USDC at 0\.3%, found "
        r"token0=0x\w+ token1=0x\w+ fee=500, and the factory's pool of WETH/USDC at 3000 is 0x0{40}"),
    "decimals": (
        "WBTC: {decimals: 8,", "WBTC: {decimals: 18,", "WBTC: {decimals",
        rf"universe\.tokens\.WBTC\.address {WBTC}: expected the ERC-20 token WBTC with 18 decimals, found "
        r"symbol 'WBTC' with 8 decimals"),
    "symbol": (
        f"WBTC: {{decimals: 8, address: {WBTC}}}", f"WBTC: {{decimals: 8, address: {WETH}}}", "WBTC: {decimals",
        rf"universe\.tokens\.WBTC\.address {WETH}: expected the ERC-20 token WBTC with 8 decimals, found "
        r"symbol 'WETH' with 18 decimals"),
    "no code": (
        f"router: {V2_ROUTER}", f"router: {NOBODY}", "uniswap_v2:",
        rf"universe\.adopt\.uniswap_v2\.router {NOBODY}: expected a UniswapV2Router02, found no contract \(no code "
        r"at block 25 of chain \d+\)"),
    "asset manager": (
        f"asset_manager: {MANAGER}", f"asset_manager: {NOBODY}", "asset_manager:",
        rf"universe\.adopt\.asset_manager {NOBODY}: expected the vault's asset manager, found that the vault's "
        rf"assetManager\(\) is {MANAGER}"),
    "pool of another pair": (
        "{pair: WBTC/USDC, dex: uniswap-v2, address: 0x22e8FA41317C855a3A4e4e4C5D6d959B47477314}",
        "{pair: WBTC/USDC, dex: uniswap-v2, address: 0x611B9964a1DcaEf1B697cD348EB25B1b44991303}", "pair: WBTC/USDC",
        rf"universe\.pools\[1\]\.address {V3_POOL}: expected a Uniswap v2 pair of WBTC/USDC, found token0=0x\w+ "
        r"token1=0x\w+, and the factory's pair of WBTC/USDC is 0x22e8FA41317C855a3A4e4e4C5D6d959B47477314"),
}


@pytest.mark.parametrize("case", sorted(MISMATCHES))
def test_a_wrong_address_is_refused_at_its_line_naming_what_is_there(mainnet: Mainnet, tmp_path: Path,
                                                                      case: str) -> None:
    """Each planted mistake: one line at the key to change, the address and what the chain holds."""
    old, new, marker, message = MISMATCHES[case]
    path = variant(tmp_path, old, new)
    with pytest.raises(AdoptionMismatch) as caught:
        adopt_on(mainnet, path)
    text = str(caught.value)
    assert "\n" not in text
    assert re.fullmatch(rf"{re.escape(str(path))}:{line_of(path, marker)}: {message}", text), text


def test_addresses_are_checked_as_written(tmp_path: Path) -> None:
    """Lowercase is accepted; a mixed-case address with a wrong checksum, or not hex, is refused at load."""
    lower = variant(tmp_path, "vault: 0xb6E855d930A53BF4c7fa29A07165ffE47958160C",
                    "vault: 0xb6e855d930a53bf4c7fa29a07165ffe47958160c")
    assert load_scenario(lower).universe.adopt.vault == "0xb6e855d930a53bf4c7fa29a07165ffe47958160c"  # type: ignore[union-attr]
    typo = variant(tmp_path, "vault: 0xb6E855d930A53BF4c7fa29A07165ffE47958160C",
                   "vault: 0xb6e855d930A53BF4c7fa29A07165ffE47958160C")
    with pytest.raises(ScenarioError, match=r"universe\.adopt\.vault: expected an address with a valid EIP-55 "
                       r"checksum \(or all lowercase\), found '0xb6e855d930A53BF4c7fa29A07165ffE47958160C' \(checksummed "
                       r"it is 0xb6E855d930A53BF4c7fa29A07165ffE47958160C\)"):
        load_scenario(typo)
    with pytest.raises(ScenarioError, match=r"universe\.adopt\.vault: expected an address like 0x \+ 40 hex digits"):
        load_scenario(variant(tmp_path, "vault: 0xb6E855d930A53BF4c7fa29A07165ffE47958160C", "vault: 0xb6E8zz"))


def test_an_adopted_universe_names_every_address_and_no_price() -> None:
    """Adopted pools give their address and take no price or depth; deployed ones the reverse."""
    text = ADOPTED.read_text().replace(FORK_CHAIN, ON_THE_NODE)
    no_address = text.replace(", address: 0x22e8FA41317C855a3A4e4e4C5D6d959B47477314", "")
    with pytest.raises(ScenarioError, match=r"universe\.pools\[1\]: expected an address \(universe\.adopt: every "
                       r"pool is an existing contract\)"):
        parse_scenario_text(no_address)
    priced = text.replace("dex: uniswap-v2, address:", "dex: uniswap-v2, price: 40000, address:")
    with pytest.raises(ScenarioError, match=r"universe\.pools\[1\]\.price: expected no price on an adopted pool"):
        parse_scenario_text(priced)
    no_v2 = re.sub(r"    uniswap_v2: \{[^}]*\}\n", "", text)
    with pytest.raises(ScenarioError, match=r"universe\.adopt\.uniswap_v2: expected the uniswap-v2 contracts "
                       r"\(pools\[1\] is on uniswap-v2\)"):
        parse_scenario_text(no_v2)


# -- impersonation ------------------------------------------------------------------------
def test_the_runner_sends_as_the_adopted_manager_without_its_key() -> None:
    """Every trade of the adopted run is the foreign manager's, by impersonation (no signature)."""
    state = json.loads(SNAPSHOT.read_text())
    trades = [t for p in state["positions"] for t in p.get("trades", [])]
    assert trades and {tx["from_address"] for t in trades for tx in t["blockchain_transactions"]} == {MANAGER}
    with pytest.raises(KeyNotHeld):
        ImpersonatedWallet("x", bytes.fromhex(MANAGER[2:])).sign(to=None, data=b"", gas=1, gas_price=1, chain_id=1)


def test_without_impersonation_the_vault_refuses_the_runner(monkeypatch: pytest.MonkeyPatch) -> None:
    """The planted bug: the runner signs with the key the harness holds instead of sending as
    the adopted manager. The vault refuses every swap (NotAssetManager) and the run's trade fails."""
    import harness.host

    monkeypatch.setattr(harness.host, "runner_account", lambda world: Wallet.from_label(world.accounts.asset_manager.label))
    result = ScenarioRun(load_scenario(ADOPTED), backend="revm").run()
    trades = result.state.portfolio.all_trades()
    assert trades and {t.status.value for t in trades} == {"failed"}
    assert all("NotAssetManager" in (t.failure_reason or "") for t in trades), [t.failure_reason for t in trades]


def test_a_node_without_the_impersonation_ability_is_refused_before_signing(mainnet: Mainnet) -> None:
    """A production node (RpcBackend) cannot impersonate: the runner stops, saying so, with nothing sent."""
    backend = RpcBackend(mainnet.url)
    chain = ChainClient(backend, clock=0, last_block_ts=0)  # type: ignore[arg-type]
    manager = ImpersonatedWallet("adopted asset manager", bytes.fromhex(MANAGER[2:]))
    call = artifact("StrategyVault4626").fn("fulfillRedemptions").encode(1)
    with pytest.raises(CannotImpersonate, match=rf"the runner sends as {MANAGER} \(adopted asset manager\), whose "
                       r"key is not held here, and backend rpc cannot impersonate an account"):
        chain.sign(manager, mainnet.world.universe.vault, call, 100_000)
    assert manager.nonce == 0 and chain.sent == 0
    backend.close()


# -- forks of a URL, and --rpc -------------------------------------------------------------
def _comparable(doc: dict[str, object]) -> dict[str, object]:
    return {k: v for k, v in doc.items() if k != "scenario"}  # the file's own name and digest differ


@pytest.mark.parametrize("backend", ["anvil-fork", "revm"])
def test_a_fork_of_an_rpc_url_is_the_same_run_as_the_scenario_fork(mainnet: Mainnet, tmp_path: Path,
                                                                  backend: str) -> None:
    """fork_url: http://... (credentials and an API key in it) forks the local "mainnet" at block 23 by the same
    code as scenario:; the run is the committed one, and the secrets are printed nowhere."""
    port = mainnet.url.rsplit(":", 1)[1].rstrip("/")
    url = f"http://user:s3cret@127.0.0.1:{port}/?key=QUERYKEY"  # anvil answers at / only: no key in the path
    path = variant(tmp_path, "", "", chain=f'chain: {{backend: anvil-fork, fork_url: "{url}", fork_block: 23}}')
    result = ScenarioRun(load_scenario(path), backend=backend).run()
    rendered = render(snapshot_document(result))
    assert _comparable(json.loads(rendered)) == _comparable(json.loads(SNAPSHOT.read_bytes()))
    for secret in ("s3cret", "QUERYKEY"):
        assert secret not in rendered.decode()
    assert redact_url(url) == f"http://127.0.0.1:{port}/..."
    assert redact_url("https://eth-mainnet.g.alchemy.com/v2/APIKEY") == "https://eth-mainnet.g.alchemy.com/..."
    assert redact_url("http://127.0.0.1:8545") == "http://127.0.0.1:8545"


def test_a_fork_of_a_url_without_adopt_is_refused(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A remote fork needs the addresses; neither that refusal nor the CLI's prints the URL's secrets."""
    text = (ROOT / "scenarios/fork/fork-finds-positions.yaml").read_text().replace(
        'fork_url: "scenario:mainnet-history.yaml"', 'fork_url: "https://user:pw@rpc.example/v2/KEY"')
    path = tmp_path / "remote.yaml"
    path.write_text(text)
    with pytest.raises(ScenarioRuntimeError) as caught:
        ScenarioRun(load_scenario(path)).run()
    assert str(caught.value) == (f"{path}: chain.fork_url: a fork of https://rpc.example/... needs universe.adopt: "
                                 "the addresses of the vault, the exchanges, the tokens and the pools there")
    assert main(["run", str(path), "--backend", "anvil", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "the scenario forks https://rpc.example/... at block 21 (anvil-fork)" in err, err
    assert "pw" not in err and "KEY" not in err


def test_rpc_adopts_the_world_on_the_node_and_deploys_nothing(mainnet: Mainnet, tmp_path: Path,
                                                              capsys: pytest.CaptureFixture[str]) -> None:
    """An adopting scenario on `--rpc`: the runner takes the vault over where it is; no contract is
    created. `harness repair --rpc` of its state adopts the same universe from the node."""
    node = mainnet.pool._anvil
    assert node is not None
    snap = node.snapshot()
    try:
        pool = ChainPool(anvil_url=mainnet.url)
        path = variant(tmp_path, "", "")
        run = ScenarioRun(load_scenario(path), backend="anvil", pool=pool, state_dir=tmp_path / "run")
        result = run.run()
        assert pool.deploys == 0 and result.error is None
        assert [e.message for e in result.expectations if not e.passed] == []
        trades = result.state.portfolio.all_trades()
        assert trades and {tx.from_address for t in trades for tx in t.blockchain_transactions} == {MANAGER}
        capsys.readouterr()
        assert main(["repair", str(tmp_path / "run" / "state.json"), "--scenario", str(path), "--rpc",
                     mainnet.url]) == 0
        assert "nothing to repair" in capsys.readouterr().out
    finally:
        node.revert(snap)


def test_rpc_never_deploys_over_a_world_already_there(mainnet: Mainnet, capsys: pytest.CaptureFixture[str],
                                                     tmp_path: Path) -> None:
    """`harness run --rpc` of a deploying scenario on a node the harness's admin already deployed on: refused."""
    code = main(["run", str(HISTORY), "--backend", "anvil", "--rpc", mainnet.url, "--quiet", "--out", str(tmp_path)])
    err = capsys.readouterr().err
    assert code == 1
    assert re.search(r"the chain at http://127\.0\.0\.1:\d+ already holds a world deployed by the harness's admin "
                     r"0x[0-9a-fA-F]{40} \(\d+ transactions sent\): the harness does not deploy a second one over it",
                     err), err
    with pytest.raises(ChainHoldsAWorld):
        ChainPool(anvil_url=mainnet.url).world("anvil", world_spec(load_scenario(HISTORY)),
                                               accounts_for(load_scenario(HISTORY)))


def test_the_adopted_scenario_gives_its_snapshot_on_an_in_process_fork() -> None:
    """`--backend revm` forks the history's anvil in process (pyrevm): the anvil-fork snapshot, byte for byte."""
    result = ScenarioRun(load_scenario(ADOPTED), backend="revm").run()
    assert render(snapshot_document(result)) == SNAPSHOT.read_bytes()


def test_the_adopted_managers_account_used_outside_the_runner(tmp_path: Path) -> None:
    """external_tx from the adopted asset manager (no key here) is sent as it by impersonation;
    the runner reads the moved nonce from the node and its next trade lands (the incident of
    scenarios/incidents/asset-manager-key-used-outside.yaml, on a vault whose key nobody holds)."""
    event = '  - {at: 12h, external_tx: {from: asset_manager, to: self, count: 2}}\n'
    marker = '  - {at: 1d, price_shock'
    path = variant(tmp_path, marker, event + marker, chain=FORK_CHAIN)
    result = ScenarioRun(load_scenario(path), backend="revm").run()
    lines = [e for j in result.journal for e in j.events if "external_tx" in e or "outside the runner" in e]
    assert lines == ["2 transaction(s) signed with the asset_manager key outside the runner: a zero-value transfer "
                     "to itself (nonces 4..5)"], lines  # the history sent trades #1-#4 by block 23
    trades = result.state.portfolio.all_trades()
    assert [(t.status.value, t.blockchain_transactions[-1].nonce) for t in trades] == [("success", 6)]


def test_harness_run_forks_in_process_with_backend_revm(tmp_path: Path) -> None:
    """`harness run FILE --backend revm` of the fork scenario: forked by pyrevm, the committed snapshot."""
    assert main(["run", str(ADOPTED), "--backend", "revm", "--quiet", "--out", str(tmp_path)]) == 0
    assert (tmp_path / "snapshot.json").read_bytes() == SNAPSHOT.read_bytes()


def test_the_first_check_flags_or_explains_every_holding_at_the_fork_block(mainnet: Mainnet) -> None:
    """What the vault held at block 23, read from the chain here, is exactly what the fresh
    runner's first check compared: each token it holds flagged (a correction booked), the
    shares explained by the deposit the runner synced from the vault's logs."""
    u = mainnet.world.universe
    chain = ChainClient(mainnet.pool._anvil, clock=0, last_block_ts=0)  # type: ignore[arg-type]
    balance_of = artifact("TestToken").fn("balanceOf")
    held = {s: t.from_units(int(chain.read(t.address, balance_of, u.vault, block=23))) for s, t in u.tokens.items()}
    assert all(v > 0 for v in held.values()), held
    first = json.loads(SNAPSHOT.read_text())["accounting_checks"][0]
    assert (first["check_id"], first["block_number"], first["kind"]) == (1, 23, "start")
    rows = {r["asset"]: r for r in first["rows"]}
    assert {s: rows[s]["on_chain"] for s in held} == {s: str(u.tokens[s].quantize(v)) for s, v in held.items()}
    assert {s: (rows[s]["verdict"], rows[s]["correction_id"] is not None) for s in held} == {
        s: ("mismatch", True) for s in held}
    assert (rows["vault shares"]["verdict"], rows["vault shares"]["difference"]) == ("ok", "0")
