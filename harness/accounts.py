"""The fixed cast of a scenario: who deploys, who trades, who invests, who moves markets.

Keys derive from labels (runner.chain.wallet.key_for), so every run and every backend
has the same addresses, nonces and therefore transaction hashes.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from runner.chain.wallet import Wallet


@dataclass
class Accounts:
    admin: Wallet
    asset_manager: Wallet
    market: Wallet
    investors: dict[str, Wallet] = field(default_factory=dict)

    @classmethod
    def for_investors(cls, names: tuple[str, ...] | list[str]) -> Accounts:
        return cls(
            admin=Wallet.from_label("admin"),
            asset_manager=Wallet.from_label("asset-manager"),
            market=Wallet.from_label("market"),
            investors={n: Wallet.from_label(f"investor/{n}") for n in names},
        )

    def all(self) -> list[Wallet]:
        return [self.admin, self.asset_manager, self.market, *self.investors.values()]

    def investor(self, name: str) -> Wallet:
        return self.investors[name]
