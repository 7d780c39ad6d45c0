"""Real faults on the wire: a loopback HTTP proxy between the runner and its node.

The in-process `harness.node_faults.FaultInjectingBackend` raises exceptions where the
node would fail; it stays for eth-tester, which has no wire. On anvil this proxy breaks
the real transport instead (resets, socket timeouts, slow and truncated answers, HTTP
5xx and 429, duplicated broadcasts, a lagging replica), so the runner's own JSON-RPC
client is what meets them.

Where it sits (anvil and anvil-fork; eth-tester has no wire)::

    runner -> RetryingBackend -> AnvilBackend(proxy.url, timeout=small)
           -> JsonRpcClient -> WireProxy(node.url, hold > timeout) -> anvil

Below the retry policy, so it decides on the real transport errors; the client timeout
small (a `timeout` fault costs one client timeout per attempt). A lag is meant for the
runner's steps only (`with proxy.lagging(...)` around the tick): the harness's own world
actions wait for receipts and need the real head.
"""

from harness.wire.faults import FORWARDED, DuplicateAnswer, FaultSchedule, WireFault
from harness.wire.lag import LAGGED_METHODS, LaggedView
from harness.wire.methods import FAULTABLE_RPC, NODE_METHODS, RPC_METHODS, rpc_targets
from harness.wire.proxy import WireProxy, WireProxyError, WireStats

__all__ = [
    "FAULTABLE_RPC",
    "FORWARDED",
    "LAGGED_METHODS",
    "NODE_METHODS",
    "RPC_METHODS",
    "DuplicateAnswer",
    "FaultSchedule",
    "LaggedView",
    "WireFault",
    "WireProxy",
    "WireProxyError",
    "WireStats",
    "rpc_targets",
]
