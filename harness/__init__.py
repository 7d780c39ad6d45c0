"""Deterministic scenario harness for the strategy runner."""
