"""The project's own pytest options: `--backend` is this project's, not the harness's."""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--backend", default="postgres", help="this project's storage backend")
