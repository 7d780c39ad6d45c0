"""The example project's own strategies."""
