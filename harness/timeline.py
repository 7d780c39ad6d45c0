"""The run's schedule: every instant at which something happens, in a fixed order.

At one instant, in this order: the events written for it (in file order), then the
strategy tick if a cycle falls there, else a trigger check if one falls there, then the
expectations for that instant. So an event at the same time as a tick happens first,
and the tick sees it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from harness.scenario.model import Event, Expectation, ReorgEvent, Scenario


@dataclass
class Instant:
    offset: timedelta
    events: list[Event] = field(default_factory=list)
    tick: bool = False
    trigger_check: bool = False
    expectations: list[Expectation] = field(default_factory=list)
    reorg_mark: bool = False  # a reorg goes back to this instant: snapshot the chain here


def build_timeline(scenario: Scenario) -> list[Instant]:
    clock = scenario.clock
    instants: dict[timedelta, Instant] = {}

    def at(offset: timedelta) -> Instant:
        inst = instants.get(offset)
        if inst is None:
            inst = instants[offset] = Instant(offset)
        return inst

    t = timedelta(0)
    while t <= clock.until:
        at(t).tick = True
        t += clock.cycle
    if clock.trigger_checks is not None:
        t = clock.trigger_checks
        while t <= clock.until:
            inst = at(t)
            if not inst.tick:
                inst.trigger_check = True
            t += clock.trigger_checks
    for event in scenario.timeline:
        at(event.at).events.append(event)
        if isinstance(event, ReorgEvent):
            at(event.to).reorg_mark = True
    for exp in scenario.expect:
        at(exp.at).expectations.append(exp)
    return [instants[k] for k in sorted(instants)]
