"""The node-fault proxy steps aside while nothing is armed, and only then.

Unarmed, a request is the inner backend's own method (no wrapper on the ~30 requests of
a cycle); armed, the runner's requests fail as drawn, the harness's pass through, and
the proxy steps aside again after the last armed fault or a disarm.
"""

from __future__ import annotations

import pytest

from harness.node_faults import FaultInjectingBackend
from harness.vocabulary import NodeFaultMode
from runner.chain.errors import NodeError, NodeTimeout
from runner.chain.methods import NodeMethod
from runner.chain.revm import RevmBackend


def test_unarmed_requests_are_the_inner_methods_and_armed_faults_still_land() -> None:
    backend = RevmBackend()
    proxy = FaultInjectingBackend(backend)
    assert proxy.block_number == backend.block_number
    proxy.arm(NodeFaultMode.error, 2)
    assert proxy.block_number != backend.block_number
    with pytest.raises(NodeError):
        proxy.block_number()
    proxy.runner_working = lambda: False  # a harness read does not use up the runner's fault
    assert proxy.block_number() == backend.block_number()
    proxy.runner_working = lambda: True
    with pytest.raises(NodeError):
        proxy.block_hash(0)
    assert proxy.remaining == 0 and proxy.block_hash == backend.block_hash
    assert proxy.injected == [f"{NodeMethod.block_number}: error", f"{NodeMethod.block_hash}: error"]


def test_disarm_and_zero_calls_leave_the_proxy_aside() -> None:
    backend = RevmBackend()
    proxy = FaultInjectingBackend(backend)
    proxy.arm(NodeFaultMode.timeout, 1, NodeMethod.block_hash)
    proxy.block_number()  # another method: not the armed one
    assert proxy.disarm() == 1
    assert proxy.block_hash == backend.block_hash
    proxy.arm(NodeFaultMode.timeout, 0)
    assert proxy.block_number == backend.block_number
    proxy.arm(NodeFaultMode.timeout, 1)
    with pytest.raises(NodeTimeout):
        proxy.block_number()
