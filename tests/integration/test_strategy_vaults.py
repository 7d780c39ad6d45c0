"""The two strategy vaults on the real DEXes: pricing, queues, settlement, trading guards.

Share prices are checked against a NAV computed here from the DEXes' own liquidation
quotes (Router02.getAmountsOut, QuoterV2), not from the vault, with OpenZeppelin's
conversion formula written out: shares = assets * (supply + 1) / (nav + 1), floored.
"""

from __future__ import annotations

import pytest

from harness.protocols.chains import ProtocolChains
from harness.protocols.deploy import NO_DEADLINE, as_address
from runner.chain.abi import artifact
from runner.chain.backend import Receipt
from runner.chain.wallet import Wallet
from tests.integration.protocol_worlds import (
    BACKENDS,
    Bench,
    chain_truth_nav,
    custom_error,
    make_bench,
)

USDC = 10**6
V4626 = "StrategyVault4626"
ASYNC = "AsyncStrategyVault"


@pytest.fixture(params=BACKENDS)
def bench(request: pytest.FixtureRequest, protocol_chains: ProtocolChains) -> Bench:
    return make_bench(protocol_chains, str(request.param))


def to_shares(assets: int, supply: int, nav: int) -> int:
    return assets * (supply + 1) // (nav + 1)


def to_assets(shares: int, supply: int, nav: int) -> int:
    return shares * (nav + 1) // (supply + 1)


def deposit(b: Bench, who: Wallet, units: int) -> int:
    """`who` deposits `units` USDC into the ERC-4626 vault; returns the shares minted."""
    v = b.vault("erc4626")
    b.mint("USDC", who.address, units)
    b.ok(who, b.token("USDC").address, "TestToken", "approve", v.address, units)
    receipt = b.ok(who, v.address, V4626, "deposit", units, who.address)
    (ev,) = b.events(receipt, v.address, V4626, "Deposit")
    return int(ev["shares"])


def invest(b: Bench) -> None:
    """Alice deposits 100,000 USDC; the asset manager buys WETH on v2 and WBTC on v3."""
    deposit(b, b.alice, 100_000 * USDC)
    assert b.world.v2 is not None
    assert b.swap_v2("erc4626", b.world.v2.router, 40_000 * USDC, 0, ["USDC", "WETH"]).success
    assert b.swap_v3("erc4626", ["USDC", "WBTC"], [3000], 30_000 * USDC, 0).success


def move_weth_price(b: Bench, weth_in: int) -> None:
    """A third party sells WETH on the v2 pair (the vault's WETH loses value)."""
    assert b.world.v2 is not None
    router = b.world.v2.router
    b.mint("WETH", b.market.address, weth_in)
    b.ok(b.market, b.token("WETH").address, "TestToken", "approve", router, weth_in)
    b.ok(b.market, router, "uniswap/UniswapV2Router02", "swapExactTokensForTokens", weth_in, 0,
         [b.token("WETH").address, b.token("USDC").address], b.market.address, NO_DEADLINE)


class TestStrategyVault4626Pricing:
    def test_nav_is_the_holdings_at_their_liquidation_quotes(self, bench: Bench) -> None:
        invest(bench)
        v = bench.vault("erc4626")
        assert bench.balance("WETH", v.address) > 0 and bench.balance("WBTC", v.address) > 0
        assert bench.read(v.address, V4626, "totalAssets") == chain_truth_nav(bench, v.address)

    def test_a_deposit_after_a_price_move_is_priced_at_that_blocks_nav(self, bench: Bench) -> None:
        invest(bench)
        move_weth_price(bench, 100 * 10**18)
        v = bench.vault("erc4626")
        nav, supply = chain_truth_nav(bench, v.address), bench.read(v.address, V4626, "totalSupply")
        assert nav < 100_000 * USDC  # the WETH the vault holds is worth less now
        bench.mint("USDC", bench.bob.address, 5_000 * USDC)
        bench.ok(bench.bob, bench.token("USDC").address, "TestToken", "approve", v.address, 5_000 * USDC)
        receipt = bench.ok(bench.bob, v.address, V4626, "deposit", 5_000 * USDC, bench.bob.address)
        (used,) = bench.events(receipt, v.address, V4626, "NavUsed")
        (ev,) = bench.events(receipt, v.address, V4626, "Deposit")
        assert (used["totalAssets"], used["totalSupply"]) == (nav, supply)
        assert ev["shares"] == to_shares(5_000 * USDC, supply, nav)

    def test_a_redemption_pays_its_share_of_the_nav_from_cash(self, bench: Bench) -> None:
        invest(bench)
        v = bench.vault("erc4626")
        shares = bench.read(v.address, V4626, "balanceOf", bench.alice.address) // 10
        nav, supply = chain_truth_nav(bench, v.address), bench.read(v.address, V4626, "totalSupply")
        before = bench.balance("USDC", bench.alice.address)
        bench.ok(bench.alice, v.address, V4626, "redeem", shares, bench.alice.address, bench.alice.address)
        assert bench.balance("USDC", bench.alice.address) - before == to_assets(shares, supply, nav)


class TestStrategyVault4626Queue:
    def test_a_redemption_the_cash_cannot_pay_reverts_and_is_queued_instead(self, bench: Bench) -> None:
        invest(bench)  # 30,000 USDC of cash left, 100,000 of NAV
        v = bench.vault("erc4626")
        alice = bench.alice
        shares = bench.read(v.address, V4626, "balanceOf", alice.address)
        max_redeem = bench.read(v.address, V4626, "maxRedeem", alice.address)
        assert 0 < max_redeem < shares
        failed = bench.tx(alice, v.address, V4626, "redeem", shares, alice.address, alice.address)
        assert not failed.success
        assert failed.revert_reason == custom_error("ERC4626ExceededMaxRedeem(address,uint256,uint256)",
                                                    alice.address, shares, max_redeem)
        half = shares // 2
        receipt = bench.ok(alice, v.address, V4626, "requestRedeem", half, alice.address, alice.address)
        (req,) = bench.events(receipt, v.address, V4626, "RedeemRequested")
        assert (req["requestId"], req["shares"]) == (1, half)
        assert bench.read(v.address, V4626, "balanceOf", v.address) == half  # escrowed, still in supply
        # the queue is owed before anyone redeems instantly
        owed = bench.read(v.address, V4626, "queuedAssets")
        assert owed > bench.balance("USDC", v.address)
        assert bench.read(v.address, V4626, "maxRedeem", alice.address) == 0
        # nothing can be paid yet
        nothing = bench.ok(bench.bob, v.address, V4626, "fulfillRedemptions", 10)
        assert bench.events(nothing, v.address, V4626, "RedeemFulfilled") == []
        # the asset manager raises cash; anyone may then fulfil, at that block's NAV
        weth = bench.balance("WETH", v.address)
        assert bench.world.v2 is not None
        assert bench.swap_v2("erc4626", bench.world.v2.router, weth, 0, ["WETH", "USDC"]).success
        nav, supply = chain_truth_nav(bench, v.address), bench.read(v.address, V4626, "totalSupply")
        before = bench.balance("USDC", alice.address)
        receipt = bench.ok(bench.bob, v.address, V4626, "fulfillRedemptions", 10)
        (paid,) = bench.events(receipt, v.address, V4626, "RedeemFulfilled")
        (withdraw,) = bench.events(receipt, v.address, V4626, "Withdraw")
        assert paid["assets"] == to_assets(half, supply, nav) == withdraw["assets"]
        assert bench.balance("USDC", alice.address) - before == paid["assets"]
        assert bench.read(v.address, V4626, "queuedShares") == 0
        assert bench.read(v.address, V4626, "balanceOf", v.address) == 0

    def test_only_the_owner_cancels_a_queued_request(self, bench: Bench) -> None:
        v = bench.vault("erc4626")
        shares = deposit(bench, bench.alice, 1_000 * USDC)
        bench.ok(bench.alice, v.address, V4626, "requestRedeem", shares, bench.bob.address, bench.alice.address)
        stranger = bench.tx(bench.bob, v.address, V4626, "cancelRedeemRequest", 1)
        assert stranger.revert_reason == custom_error("NotRequestOwner(uint256,address)", 1, bench.bob.address)
        receipt = bench.ok(bench.alice, v.address, V4626, "cancelRedeemRequest", 1)
        (ev,) = bench.events(receipt, v.address, V4626, "RedeemRequestCancelled")
        assert ev["shares"] == shares == bench.read(v.address, V4626, "balanceOf", bench.alice.address)
        again = bench.tx(bench.alice, v.address, V4626, "cancelRedeemRequest", 1)
        assert again.revert_reason == custom_error("RequestNotQueued(uint256)", 1)


class TestTrading:
    def test_swaps_book_balance_deltas_and_approve_exactly_the_amount(self, bench: Bench) -> None:
        v = bench.vault("erc4626")
        deposit(bench, bench.alice, 50_000 * USDC)
        assert bench.world.v2 is not None
        router = bench.world.v2.router
        receipt = bench.swap_v2("erc4626", router, 10_000 * USDC, 1, ["USDC", "FOT"])
        assert receipt.success
        token_in, token_out, amount_in, amount_out = bench.swapped(receipt, "erc4626")
        assert (token_in, token_out, amount_in) == (bench.token("USDC").address, bench.token("FOT").address,
                                                    10_000 * USDC)
        assert amount_out == bench.balance("FOT", v.address)  # what arrived, after FOT's 1% fee
        approvals = bench.events(receipt, bench.token("USDC").address, "TestToken", "Approval")
        assert [a["value"] for a in approvals] == [10_000 * USDC]  # exactly amountIn, all of it spent
        assert bench.read(bench.token("USDC").address, "TestToken", "allowance", v.address, router) == 0
        sell = bench.swap_v2("erc4626", router, amount_out, 1, ["FOT", "USDC"])
        assert sell.success
        _, _, sold, _got = bench.swapped(sell, "erc4626")
        assert sold == amount_out and bench.balance("FOT", v.address) == 0

    def test_the_vault_values_a_fee_on_transfer_holding_at_what_selling_it_delivers(self, bench: Bench) -> None:
        """FOT burns 1% of every transfer: Router02.getAmountsOut, which ignores it, overstates
        what a sale fetches; the vault's liquidation value is the sale's real proceeds."""
        v = bench.vault("erc4626")
        deposit(bench, bench.alice, 50_000 * USDC)
        assert bench.world.v2 is not None
        router, fot, usdc = bench.world.v2.router, bench.token("FOT").address, bench.token("USDC").address
        held = bench.swapped(bench.swap_v2("erc4626", router, 10_000 * USDC, 1, ["USDC", "FOT"]), "erc4626")[3]
        value = bench.read(v.address, V4626, "liquidationValue", fot, held)
        quoted = int(bench.read(router, "uniswap/UniswapV2Router02", "getAmountsOut", held, [fot, usdc])[-1])
        sell = bench.swap_v2("erc4626", router, held, 1, ["FOT", "USDC"])
        assert sell.success
        proceeds = bench.swapped(sell, "erc4626")[3]  # what reached the vault, from its balance delta
        assert value == proceeds < quoted

    def test_v3_and_fixture_router_swaps(self, bench: Bench) -> None:
        v = bench.vault("erc4626")
        deposit(bench, bench.alice, 50_000 * USDC)
        quoted = bench.quote_v3(["USDC", "WETH", "WBTC"], [3000, 500], 8_000 * USDC)
        receipt = bench.swap_v3("erc4626", ["USDC", "WETH", "WBTC"], [3000, 500], 8_000 * USDC, quoted)
        assert receipt.success and bench.swapped(receipt, "erc4626")[3] == quoted == bench.balance("WBTC", v.address)
        assert bench.world.fixture is not None
        old = bench.swap_v2("erc4626", bench.world.fixture.router, 2_000 * USDC, 1, ["USDC", "WETH"])
        assert old.success and bench.swapped(old, "erc4626")[3] == bench.balance("WETH", v.address)

    def test_the_vault_values_v3_holdings_at_quoter_v2s_quote(self, bench: Bench) -> None:
        v = bench.vault("erc4626")
        for units in (1, 10**6 + 3, 7 * 10**8, 10**10):
            value = bench.read(v.address, V4626, "liquidationValue", bench.token("WBTC").address, units)
            assert value == bench.quote_v3(["WBTC", "USDC"], [3000], units)

    def test_guards(self, bench: Bench) -> None:
        v = bench.vault("erc4626")
        deposit(bench, bench.alice, 1_000 * USDC)
        assert bench.world.v2 is not None and bench.world.v3 is not None
        path = [bench.token("USDC").address, bench.token("WETH").address]
        intruder = bench.tx(bench.alice, v.address, V4626, "swapV2", bench.world.v2.router, 10 * USDC, 0, path,
                            NO_DEADLINE)
        assert intruder.revert_reason == custom_error("NotAssetManager(address)", bench.alice.address)
        wrong_kind = bench.swap_v2("erc4626", bench.world.v3.swap_router, 10 * USDC, 0, ["USDC", "WETH"])
        assert wrong_kind.revert_reason == custom_error("RouterNotWhitelisted(address)", bench.world.v3.swap_router)
        unknown = bench.swap_v2("erc4626", bench.market.address, 10 * USDC, 0, ["USDC", "WETH"])
        assert unknown.revert_reason == custom_error("RouterNotWhitelisted(address)", bench.market.address)
        weth_token = bench.token("WETH").address
        bench.ok(bench.d.admin, v.address, V4626, "removeTrackedAsset", weth_token)
        untracked = bench.swap_v2("erc4626", bench.world.v2.router, 10 * USDC, 0, ["USDC", "WETH"])
        assert untracked.revert_reason == custom_error("UntrackedToken(address)", weth_token)

    def test_dex_reverts_bubble_up_unchanged(self, bench: Bench) -> None:
        deposit(bench, bench.alice, 1_000 * USDC)
        assert bench.world.v2 is not None and bench.world.v3 is not None
        v = bench.vault("erc4626")
        bench.chain.set_clock(bench.chain.clock + 86_400)
        path = [bench.token("USDC").address, bench.token("WETH").address]
        expired = bench.tx(bench.am, v.address, V4626, "swapV2", bench.world.v2.router, 10 * USDC, 0, path, 1)
        assert expired.revert_reason == "UniswapV2Router: EXPIRED"
        too_old = bench.tx(bench.am, v.address, V4626, "swapV3", bench.world.v3.swap_router,
                           bench.v3_path(["USDC", "WETH"], [500]), 10 * USDC, 0, 1)
        assert too_old.revert_reason == "Transaction too old"
        greedy = bench.swap_v2("erc4626", bench.world.v2.router, 10 * USDC, 10**30, ["USDC", "WETH"])
        assert bench.reason(greedy) == "UniswapV2Router: INSUFFICIENT_OUTPUT_AMOUNT"
        greedy3 = bench.swap_v3("erc4626", ["USDC", "WETH"], [500], 10 * USDC, 10**30)
        assert greedy3.revert_reason == "Too little received"


# -- the asynchronous vault ------------------------------------------------------------------

def request_deposit(b: Bench, who: Wallet, units: int) -> dict[str, object]:
    v = b.vault("async")
    b.mint("USDC", who.address, units)
    b.ok(who, b.token("USDC").address, "TestToken", "approve", v.address, units)
    receipt = b.ok(who, v.address, ASYNC, "requestDeposit", units, who.address, who.address)
    (ev,) = b.events(receipt, v.address, ASYNC, "DepositRequest")
    return ev


class TestAsyncStrategyVault:
    def test_deposit_request_settle_claim(self, bench: Bench) -> None:
        v = bench.vault("async")
        alice = bench.alice
        ev = request_deposit(bench, alice, 10_000 * USDC)
        assert (ev["requestId"], ev["assets"], as_address(ev["controller"])) == (1, 10_000 * USDC, alice.address)
        assert bench.read(v.address, ASYNC, "pendingDepositRequest", 1, alice.address) == 10_000 * USDC
        assert bench.read(v.address, ASYNC, "totalAssets") == 0  # pending deposits are not NAV
        assert bench.read(v.address, ASYNC, "holdingsValue") == 0
        settle = bench.ok(bench.am, v.address, ASYNC, "settleDeposit", 0)
        (settled,) = bench.events(settle, v.address, ASYNC, "DepositSettled")
        assert (settled["requestId"], settled["assets"], settled["shares"]) == (1, 10_000 * USDC, 10_000 * USDC)
        assert bench.read(v.address, ASYNC, "claimableDepositRequest", 1, alice.address) == 10_000 * USDC
        assert bench.read(v.address, ASYNC, "pendingDepositRequest", 1, alice.address) == 0
        assert bench.read(v.address, ASYNC, "depositRequestId") == 2
        claim = bench.ok(alice, v.address, ASYNC, "deposit(uint256,address)", 10_000 * USDC, alice.address)
        (dep,) = bench.events(claim, v.address, ASYNC, "Deposit")
        assert dep["shares"] == 10_000 * USDC == bench.read(v.address, ASYNC, "balanceOf", alice.address)
        assert bench.read(v.address, ASYNC, "totalAssets") == 10_000 * USDC

    def test_the_second_epoch_is_priced_at_the_supplied_nav(self, bench: Bench) -> None:
        v = bench.vault("async")
        request_deposit(bench, bench.alice, 10_000 * USDC)
        bench.ok(bench.am, v.address, ASYNC, "settleDeposit", 0)
        request_deposit(bench, bench.bob, 3_000 * USDC)
        supplied = 12_000 * USDC  # the strategy made 20%
        receipt = bench.ok(bench.am, v.address, ASYNC, "settleDeposit", supplied)
        (nav,) = bench.events(receipt, v.address, ASYNC, "NavUpdated")
        (settled,) = bench.events(receipt, v.address, ASYNC, "DepositSettled")
        assert nav["totalAssets"] == supplied
        assert settled["shares"] == to_shares(3_000 * USDC, 10_000 * USDC, supplied)
        assert bench.read(v.address, ASYNC, "maxMint", bench.bob.address) == settled["shares"]
        assert bench.read(v.address, ASYNC, "totalAssets") == supplied + 3_000 * USDC

    def test_pending_and_reserved_cash_cannot_be_traded(self, bench: Bench) -> None:
        v = bench.vault("async")
        request_deposit(bench, bench.alice, 10_000 * USDC)
        assert bench.world.v2 is not None
        blocked = bench.swap_v2("async", bench.world.v2.router, 1_000 * USDC, 0, ["USDC", "WETH"])
        assert blocked.revert_reason == custom_error("InsufficientFreeCash(uint256,uint256)", 1_000 * USDC, 0)
        bench.ok(bench.am, v.address, ASYNC, "settleDeposit", 0)
        bench.ok(bench.alice, v.address, ASYNC, "deposit(uint256,address)", 10_000 * USDC, bench.alice.address)
        bench.ok(bench.alice, v.address, ASYNC, "requestRedeem", 4_000 * USDC, bench.alice.address,
                 bench.alice.address)
        bench.ok(bench.am, v.address, ASYNC, "settleRedeem", 10_000 * USDC)
        reserved = bench.read(v.address, ASYNC, "claimableRedeemAssets")
        assert reserved == to_assets(4_000 * USDC, 10_000 * USDC, 10_000 * USDC)
        assert bench.read(v.address, ASYNC, "freeCash") == 10_000 * USDC - reserved
        over = bench.swap_v2("async", bench.world.v2.router, 10_000 * USDC - reserved + 1, 0, ["USDC", "WETH"])
        assert over.revert_reason == custom_error("InsufficientFreeCash(uint256,uint256)",
                                                  10_000 * USDC - reserved + 1, 10_000 * USDC - reserved)

    def test_redeem_request_settle_claim(self, bench: Bench) -> None:
        v = bench.vault("async")
        alice = bench.alice
        request_deposit(bench, alice, 10_000 * USDC)
        bench.ok(bench.am, v.address, ASYNC, "settleDeposit", 0)
        bench.ok(alice, v.address, ASYNC, "deposit(uint256,address)", 10_000 * USDC, alice.address)
        assert bench.world.v2 is not None
        assert bench.swap_v2("async", bench.world.v2.router, 9_000 * USDC, 0, ["USDC", "WETH"]).success
        receipt = bench.ok(alice, v.address, ASYNC, "requestRedeem", 5_000 * USDC, alice.address, alice.address)
        (req,) = bench.events(receipt, v.address, ASYNC, "RedeemRequest")
        assert (req["requestId"], req["shares"]) == (1, 5_000 * USDC)
        nav = bench.read(v.address, ASYNC, "holdingsValue")  # chain truth the manager supplies
        assert nav == chain_truth_nav(bench, v.address)
        short = bench.tx(bench.am, v.address, ASYNC, "settleRedeem", nav)
        owed = to_assets(5_000 * USDC, 10_000 * USDC, nav)
        assert short.revert_reason == custom_error("InsufficientCash(uint256,uint256)", owed, 1_000 * USDC)
        weth = bench.balance("WETH", v.address)
        assert bench.swap_v2("async", bench.world.v2.router, weth, 0, ["WETH", "USDC"]).success
        nav = bench.read(v.address, ASYNC, "holdingsValue")
        receipt = bench.ok(bench.am, v.address, ASYNC, "settleRedeem", nav)
        (settled,) = bench.events(receipt, v.address, ASYNC, "RedeemSettled")
        assert settled["assets"] == to_assets(5_000 * USDC, 10_000 * USDC, nav)
        assert bench.read(v.address, ASYNC, "totalAssets") == nav - settled["assets"]
        assert bench.read(v.address, ASYNC, "maxWithdraw", alice.address) == settled["assets"]
        before = bench.balance("USDC", alice.address)
        claim = bench.ok(alice, v.address, ASYNC, "redeem", 5_000 * USDC, alice.address, alice.address)
        (w,) = bench.events(claim, v.address, ASYNC, "Withdraw")
        assert w["assets"] == settled["assets"] == bench.balance("USDC", alice.address) - before
        assert bench.read(v.address, ASYNC, "claimableRedeemAssets") == 0

    def test_others_cancel_and_settle_and_every_step_is_in_the_logs(self, bench: Bench) -> None:
        """The investor cancels, the owner (not the runner) settles: a later sync finds it
        all from the events, in order."""
        v = bench.vault("async")
        start = bench.chain.block_number() + 1
        request_deposit(bench, bench.alice, 1_000 * USDC)
        request_deposit(bench, bench.bob, 2_000 * USDC)
        receipt = bench.ok(bench.bob, v.address, ASYNC, "cancelDepositRequest", bench.bob.address)
        (cancel,) = bench.events(receipt, v.address, ASYNC, "DepositRequestCancelled")
        assert cancel["assets"] == 2_000 * USDC == bench.balance("USDC", bench.bob.address)
        stranger = bench.tx(bench.market, v.address, ASYNC, "settleDeposit", 0)
        assert stranger.revert_reason == custom_error("NotSettler(address)", bench.market.address)
        bench.ok(bench.d.admin, v.address, ASYNC, "settleDeposit", 0)
        bench.ok(bench.alice, v.address, ASYNC, "setOperator", bench.bob.address, True)
        bench.ok(bench.bob, v.address, ASYNC, "deposit(uint256,address,address)", 1_000 * USDC, bench.bob.address,
                 bench.alice.address)  # an operator claims for alice, to bob
        art = artifact(ASYNC)
        names = {art.event(n).topic: n for n in art.events}
        logs = bench.chain.backend.get_logs(v.address, [], start, bench.chain.block_number())
        assert [names[lg.topics[0]] for lg in logs if lg.topics[0] in names] == [
            "DepositRequest", "DepositRequest", "DepositRequestCancelled", "NavUpdated", "Transfer",
            "DepositSettled", "OperatorSet", "Transfer", "Deposit"]
        assert bench.read(v.address, ASYNC, "balanceOf", bench.bob.address) == 1_000 * USDC

    def test_a_new_request_claims_the_settled_one_first(self, bench: Bench) -> None:
        v = bench.vault("async")
        request_deposit(bench, bench.alice, 1_000 * USDC)
        bench.ok(bench.am, v.address, ASYNC, "settleDeposit", 0)
        request_deposit(bench, bench.alice, 500 * USDC)
        assert bench.read(v.address, ASYNC, "balanceOf", bench.alice.address) == 1_000 * USDC
        assert bench.read(v.address, ASYNC, "pendingDepositRequest", 2, bench.alice.address) == 500 * USDC

    def test_erc7540_surface(self, bench: Bench) -> None:
        v = bench.vault("async")
        for interface in (0x01FFC9A7, 0xE3BC4E65, 0xCE3BBE50, 0x620EE8E4, 0x2F0A18C5):
            assert bench.read(v.address, ASYNC, "supportsInterface", interface.to_bytes(4, "big")) is True
        assert bench.read(v.address, ASYNC, "supportsInterface", b"\xff\xff\xff\xff") is False
        preview = bench.tx(bench.alice, v.address, ASYNC, "previewDeposit", 1)
        assert preview.revert_reason == custom_error("AsyncFlow()")
        assert as_address(bench.read(v.address, ASYNC, "share")) == v.address
        assert bench.read(v.address, ASYNC, "decimals") == 6


def vault_story(b: Bench) -> list[object]:
    """Deposits, trades on every DEX, a price move, a queued redemption and an async
    epoch: every event the vaults emitted, with its block."""
    out: list[object] = []

    def log(receipt: Receipt, kind: str) -> None:
        assert receipt.success
        v = b.vault(kind)
        art = artifact(v.contract)
        names = {art.event(n).topic: n for n in art.events}
        for lg in receipt.logs:
            if lg.address == v.address and lg.topics[0] in names:
                name = names[lg.topics[0]]
                out.append((receipt.block_number, name, art.event(name).decode(lg.topics, lg.data)))

    invest(b)
    move_weth_price(b, 50 * 10**18)
    v = b.vault("erc4626")
    assert b.world.v2 is not None and b.world.fixture is not None
    log(b.swap_v2("erc4626", b.world.fixture.router, 1_000 * USDC, 1, ["USDC", "WETH"]), "erc4626")
    log(b.ok(b.alice, v.address, V4626, "requestRedeem", 50_000 * USDC, b.alice.address, b.alice.address), "erc4626")
    log(b.swap_v3("erc4626", ["WBTC", "USDC"], [3000], b.balance("WBTC", v.address), 1), "erc4626")
    log(b.ok(b.bob, v.address, V4626, "fulfillRedemptions", 5), "erc4626")
    a = b.vault("async")
    request_deposit(b, b.bob, 7_000 * USDC)
    log(b.ok(b.am, a.address, ASYNC, "settleDeposit", 0), "async")
    log(b.ok(b.bob, a.address, ASYNC, "deposit(uint256,address)", 7_000 * USDC, b.bob.address), "async")
    log(b.swap_v3("async", ["USDC", "WETH"], [500], 3_000 * USDC, 1), "async")
    out.append(("nav", chain_truth_nav(b, v.address), b.read(a.address, ASYNC, "holdingsValue")))
    return out


@pytest.mark.anvil
def test_both_backends_tell_the_same_story(protocol_chains: ProtocolChains) -> None:
    stories = [vault_story(make_bench(protocol_chains, backend)) for backend in ("eth-tester", "anvil")]
    names = [e[1] for e in stories[0]]
    assert {"RedeemFulfilled", "DepositSettled", "Deposit", "Swapped", "NavUsed"} <= set(names)
    assert stories[0] == stories[1]
