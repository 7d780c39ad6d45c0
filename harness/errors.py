"""Errors the harness reports to a person, each carrying enough location to act on.

Every error a scenario author can cause names the file and line it came from, so that a
failing run reads like a compiler diagnostic instead of a traceback::

    HarnessError(Exception)
     +-- ScenarioError(HarnessError, ValueError)   bad scenario input: file, line, key, expected, found
     |    |                                        (also a file that is not a readable regular file under 1 MiB: no line)
     |    +-- ScenarioSyntaxError                  YAML that does not parse (file, line, column from the YAML mark)
     +-- ScenarioErrors(HarnessError, ValueError)  several ScenarioError found in one file (.errors, sorted by line)
     +-- ScenarioRuntimeError(HarnessError)       a valid scenario that cannot be carried out (file, line, key, message)
     +-- ExpectationFailed(HarnessError)          an `expect` entry did not hold (file, line, message)
     +-- BackendUnavailable(HarnessError)         a chain backend cannot start (e.g. anvil missing; carries the install hint)

The constructors pass their fields to ``Exception.__init__`` so the errors survive pickling
(pytest-xdist workers, multiprocessing) with their attributes intact.

The runner's own input errors are not harness errors: ``runner.strategy.loader.StrategyLoadError``
(ImportError) and ``runner.strategy.parameters.ParameterError`` (ValueError); the scenario
loader reports both as ScenarioErrors at the ``strategy`` lines that caused them.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = [
    "BackendUnavailable",
    "ExpectationFailed",
    "HarnessError",
    "ScenarioError",
    "ScenarioErrors",
    "ScenarioRuntimeError",
    "ScenarioSyntaxError",
    "raise_collected",
]


def _where(file: str, line: int | None) -> str:
    """Render ``file:line`` (or just ``file`` when the line is unknown)."""
    return file if line is None else f"{file}:{line}"


class HarnessError(Exception):
    """Root of every error the harness raises on purpose; anything else is a bug."""


class ScenarioError(HarnessError, ValueError):
    """A scenario file says something the harness cannot accept.

    ``found`` is already rendered for a person (strings quoted, ``nothing (key missing)`` for
    an absent key) because only the decoder knows what the source text looked like.
    """

    def __init__(self, file: str, line: int | None, key: str, expected: str, found: str) -> None:
        super().__init__(file, line, key, expected, found)
        self.file = file
        self.line = line
        self.key = key
        self.expected = expected
        self.found = found

    def __str__(self) -> str:
        prefix = f"{_where(self.file, self.line)}: "
        if self.key:
            prefix += f"{self.key}: "
        return f"{prefix}expected {self.expected}, found {self.found}"


class ScenarioSyntaxError(ScenarioError):
    """The file is not YAML at all; the parser's own words say why, the mark says where."""

    def __init__(
        self,
        file: str,
        line: int | None,
        column: int | None,
        problem: str,
        context: str | None = None,
    ) -> None:
        ValueError.__init__(self, file, line, column, problem, context)
        self.file = file
        self.line = line
        self.column = column
        self.problem = problem
        self.context = context
        self.key = ""
        self.expected = "valid YAML"
        self.found = problem

    def __str__(self) -> str:
        where = _where(self.file, self.line)
        if self.line is not None and self.column is not None:
            where = f"{where}:{self.column}"
        detail = f" ({self.context})" if self.context else ""
        return f"{where}: invalid YAML: {self.problem}{detail}"


class ScenarioErrors(HarnessError, ValueError):
    """All the problems of one file at once, so an author fixes them in one pass."""

    def __init__(self, errors: Iterable[ScenarioError]) -> None:
        ordered = sorted(errors, key=_line_order)
        super().__init__(ordered)
        self.errors: list[ScenarioError] = ordered

    def __str__(self) -> str:
        return "\n".join(str(error) for error in self.errors)


def _line_order(error: ScenarioError) -> tuple[bool, int]:
    """Sort key: by line, errors without a line last; ``sorted`` keeps ties in found order."""
    return (error.line is None, error.line or 0)


def raise_collected(errors: Iterable[ScenarioError]) -> None:
    """Raise nothing, the single error itself, or a ScenarioErrors holding them all.

    Exact duplicates (the same node reached twice through a YAML alias) are reported once.
    """
    unique: list[ScenarioError] = []
    seen: set[tuple[str, int | None, str, str, str]] = set()
    for error in errors:
        identity = (error.file, error.line, error.key, error.expected, error.found)
        if identity not in seen:
            seen.add(identity)
            unique.append(error)
    if len(unique) == 1:
        raise unique[0]
    if unique:
        raise ScenarioErrors(unique)


class ScenarioRuntimeError(HarnessError):
    """A scenario that decoded fine asks for something the world cannot do at run time."""

    def __init__(self, file: str, line: int | None, key: str, message: str) -> None:
        super().__init__(file, line, key, message)
        self.file = file
        self.line = line
        self.key = key
        self.message = message

    def __str__(self) -> str:
        key = f"{self.key}: " if self.key else ""
        return f"{_where(self.file, self.line)}: {key}{self.message}"


class ExpectationFailed(HarnessError):
    """An ``expect`` entry did not hold; points at the entry so the author can judge it."""

    def __init__(self, file: str, line: int | None, message: str) -> None:
        super().__init__(file, line, message)
        self.file = file
        self.line = line
        self.message = message

    def __str__(self) -> str:
        return f"{_where(self.file, self.line)}: {self.message}"


class BackendUnavailable(HarnessError):
    """A chain backend cannot start; ``hint`` tells the person how to install or enable it."""

    def __init__(self, backend: str, reason: str, hint: str = "") -> None:
        super().__init__(backend, reason, hint)
        self.backend = backend
        self.reason = reason
        self.hint = hint

    def __str__(self) -> str:
        hint = f" (hint: {self.hint})" if self.hint else ""
        return f"chain backend {self.backend!r} is unavailable: {self.reason}{hint}"
