"""The harness version printed in every run's fingerprint line."""

HARNESS_VERSION = "0.1.0"
