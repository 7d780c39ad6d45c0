"""The kill-point proxy steps aside while nothing is armed, and only then.

Disarmed, a request goes straight to the inner backend (no kill point, not counted);
armed, every request is two kill points again and the kill lands where it is drawn; once
it has fired the proxy steps aside again.
"""

from __future__ import annotations

import pytest

from runner.chain.revm import RevmBackend
from runner.errors import SimulatedCrash
from runner.killpoints import KillSwitch, raise_crash


def test_requests_bypass_the_switch_until_a_point_is_armed() -> None:
    switch = KillSwitch(die=raise_crash)
    backend = RevmBackend()
    proxy = switch.around(backend)
    assert proxy.block_number == backend.block_number  # the inner method itself
    proxy.block_number()
    assert switch.points == 0
    switch.arm(after=3)  # before block_number (1), after it (2), before the next request (3)
    assert proxy.block_number != backend.block_number
    proxy.block_number()
    assert switch.points == 2
    with pytest.raises(SimulatedCrash, match="before block_hash"):
        proxy.block_hash(0)
    assert switch.at_point is None and proxy.block_hash == backend.block_hash
    assert proxy.block_hash(0) == backend.block_hash(0)
