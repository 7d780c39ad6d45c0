"""The fixed cast of a scenario: who deploys, who trades, who invests, who moves markets.

Keys derive from labels (runner.chain.wallet.key_for), so every run and every backend
has the same addresses, nonces and therefore transaction hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.chain.wallet import Wallet

ASSET_MANAGER = "asset-manager"
"""The default label of the asset manager's key: the runner's own."""


@dataclass
class Accounts:
    admin: Wallet
    asset_manager: Wallet
    market: Wallet
    investors: dict[str, Wallet] = field(default_factory=dict)

    @classmethod
    def for_investors(cls, names: tuple[str, ...] | list[str], asset_manager: str = ASSET_MANAGER) -> Accounts:
        """The cast; `asset_manager` is the label of the vault's manager key (a history
        scenario names another, so the fork adopting its vault holds no key for it)."""
        return cls(
            admin=Wallet.from_label("admin"),
            asset_manager=Wallet.from_label(asset_manager),
            market=Wallet.from_label("market"),
            investors={n: Wallet.from_label(f"investor/{n}") for n in names},
        )

    def all(self) -> list[Wallet]:
        return [self.admin, self.asset_manager, self.market, *self.investors.values()]

    def investor(self, name: str) -> Wallet:
        return self.investors[name]
