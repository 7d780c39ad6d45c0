"""Bundled strategies."""
