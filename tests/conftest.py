"""Shared fixtures. Test data comes from small typed factories with fixed timestamps."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal

import pytest

T0 = datetime(2024, 1, 1, tzinfo=UTC)


@pytest.fixture
def t0() -> datetime:
    """The fixed start time every factory uses."""
    return T0


@pytest.fixture(scope="session")
def chain_pool() -> Iterator[object]:
    """This worker's chains and deployed worlds (one anvil per worker, started on first use)."""
    from harness.chains import ChainPool

    pool = ChainPool()
    try:
        yield pool
    finally:
        pool.close()


def dec(x: str | int) -> Decimal:
    return Decimal(str(x))
