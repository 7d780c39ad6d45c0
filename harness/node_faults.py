"""Node faults on demand: the next N requests fail with an error or a timeout.

A backend proxy, so every chain fails the same requests in the same order and a
node-fault scenario keeps one snapshot for all backends. A timeout is the nasty case:
the request reaches the node and its answer is lost, so the caller cannot know whether
it happened. An error means the node refused it. Only the runner's own requests
(`FAULTABLE`) can be made to fail; mining and snapshots are the harness's.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from harness.vocabulary import NodeFaultMode
from runner.chain.backend import Backend
from runner.chain.errors import NodeError, NodeTimeout
from runner.chain.methods import FAULTABLE, NodeMethod
from runner.chain.proxy import BackendProxy
from runner.chain.retry import NO_ANSWER

T = TypeVar("T")
logger = logging.getLogger(__name__)


class FaultInjectingBackend(BackendProxy):
    def __init__(self, inner: Backend) -> None:
        super().__init__(inner)
        self.remaining = 0
        self.mode = NodeFaultMode.error
        self.injected: list[str] = []
        self.method: NodeMethod | None = None
        # whether the runner is the one asking: the harness shares this chain client
        # (world reads, the truth oracle), and its reads must not use up the runner's faults
        self.runner_working: Callable[[], bool] = lambda: True
        self._bypass(True)  # nothing armed: requests go straight to the node

    def arm(self, mode: NodeFaultMode, calls: int, method: NodeMethod | None = None) -> None:
        self.mode = NodeFaultMode(mode)
        self.remaining = calls
        self.method = NodeMethod(method) if method is not None else None
        self._bypass(self.remaining <= 0)

    def disarm(self) -> int:
        left, self.remaining = self.remaining, 0
        self._bypass(True)
        return left

    def _request(self, method: NodeMethod, thunk: Callable[[], T]) -> T:
        if (self.remaining <= 0 or method not in FAULTABLE or (self.method is not None and self.method != method)
                or not self.runner_working()):
            return thunk()
        self.remaining -= 1
        if self.remaining <= 0:
            self._bypass(True)  # the last armed fault: later requests skip this proxy again
        self.injected.append(f"{method}: {self.mode}")
        logger.warning("injected node fault: %s %s (%d more armed)", method, self.mode, self.remaining)
        if self.mode == NodeFaultMode.timeout:
            thunk()  # it reached the node; the answer is lost
            raise NodeTimeout(method, NO_ANSWER)
        raise NodeError(method, "internal error (injected)", -32603)


__all__ = ["FaultInjectingBackend"]
