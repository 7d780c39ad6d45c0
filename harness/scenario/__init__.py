"""Scenario files: YAML in, a frozen, validated ``Scenario`` out (plus its JSON Schema).

The model classes are the contract with the chain, runner and engine; see model.py. The
exported names are the model's own (every class, every event and expectation kind, the
limits) plus the entry points below, so a new kind is exported by being defined.
"""

from __future__ import annotations

from harness.scenario import model as _model
from harness.scenario.loader import (  # noqa: F401 - re-exported through __all__
    MAX_FILE_BYTES,
    check_for_backend,
    load_scenario,
    parse_scenario_text,
)
from harness.scenario.model import *  # noqa: F403 - the model's names are the package's
from harness.scenario.schema import render_template, scenario_json_schema  # noqa: F401

__all__ = sorted(
    [
        *_model.__all__,
        "MAX_FILE_BYTES",
        "check_for_backend",
        "load_scenario",
        "parse_scenario_text",
        "render_template",
        "scenario_json_schema",
    ]
)
