"""A StrategyRunner for live DeFi trading, built to be driven deterministically."""
