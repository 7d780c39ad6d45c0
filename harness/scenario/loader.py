"""Scenario files in, a validated ``Scenario`` out, or every problem at once, located.

    file --(regular, <= 1 MiB, read without blocking)--> bytes --(UTF-8)--> text
         --yamlnodes--> located tree (lines; no floats; sizes bounded)
         --to_data--> plain values --gather_facts--> facts (start, tokens, strategy...)
         --Scenario.model_validate(context=facts)--> Scenario | pydantic errors
         --each error's loc walked through the tree--> ScenarioError(file, line, key, ...)

Every error of the model is already "expected X, found Y" (runner.strategy.validation);
here it only gains its file, line and dotted key, and ``found`` the text as written.
"""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path

from pydantic import ValidationError

from harness.errors import ScenarioError, ScenarioErrors, ScenarioSyntaxError, raise_collected
from harness.scenario.model import MAX_INSTANTS, Scenario, backend_problems, gather_facts
from harness.scenario.types import Facts, SourceInfo
from harness.scenario.yamlnodes import (
    INVALID,
    LMapping,
    LNode,
    LScalar,
    LSequence,
    compose_text,
    describe,
    to_data,
)
from harness.vocabulary import BackendName
from runner.strategy.validation import Issue, issues

__all__ = [
    "MAX_FILE_BYTES",
    "check_for_backend",
    "load_history",
    "load_scenario",
    "parse_scenario_text",
    "read_scenario_file",
]

MAX_FILE_BYTES = 1 << 20
"""A scenario file is at most 1 MiB: far more than any timeline needs."""

_FILE_KINDS = (
    (stat.S_ISDIR, "a directory"),
    (stat.S_ISFIFO, "a FIFO"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def read_scenario_file(file: str) -> bytes:
    """The bytes of a regular file of at most MAX_FILE_BYTES; never blocks, never reads more.

    Opened non-blocking (a FIFO without a writer would hang a plain open) and checked with
    fstat on the open descriptor, so what is read is what was checked.
    """
    flags = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOCTTY", 0)
    try:
        fd = os.open(file, flags)
    except OSError as exc:
        raise ScenarioError(file, None, "", "a readable scenario file", exc.strerror or type(exc).__name__) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
            raise ScenarioError(file, None, "", "a regular file", kind)
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:
            chunk = os.read(fd, MAX_FILE_BYTES + 1 - size)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
    except OSError as exc:
        raise ScenarioError(file, None, "", "a readable scenario file", exc.strerror or type(exc).__name__) from None
    finally:
        os.close(fd)
    if size > MAX_FILE_BYTES:
        raise ScenarioError(file, None, "", "a scenario file of at most 1 MiB", "a larger file")
    return b"".join(chunks)


def parse_scenario_text(text: str, file: str = "<string>", *, max_instants: int | None = None) -> Scenario:
    """Parse a scenario from text; ``file`` only labels errors and ``source.path``."""
    digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
    return _parse(text, SourceInfo(path=file, sha256=digest), max_instants or MAX_INSTANTS, ())


def load_scenario(path: str | os.PathLike[str], *, max_instants: int | None = None) -> Scenario:
    """Read and parse a scenario file; errors name the path exactly as given.

    ``max_instants`` bounds the run's ticks and trigger checks (default MAX_INSTANTS,
    ``--max-instants`` on the command line).
    """
    return _load(os.fspath(path), max_instants or MAX_INSTANTS, ())


def _load(file: str, max_instants: int, forks: tuple[Path, ...]) -> Scenario:
    data = read_scenario_file(file)
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})"
        raise ScenarioSyntaxError(file, line, column, problem) from None
    here = Path(os.path.abspath(file))
    return _parse(text, SourceInfo(path=file, sha256=digest), max_instants, (*forks, here))


def load_history(path: Path, forks: tuple[Path, ...], max_instants: int) -> str | None:
    """Why the history scenario of a ``fork_url`` does not load, or None when it does."""
    try:
        _load(str(path), max_instants or MAX_INSTANTS, forks[:-1])
    except ScenarioErrors as exc:
        return f"{len(exc.errors)} problems, the first: {exc.errors[0]}"
    except ScenarioError as exc:
        return str(exc)
    return None


def check_for_backend(scenario: Scenario, backend: BackendName | str) -> None:
    """Refuse events the backend cannot carry out (``harness run --backend`` overrides the file's)."""
    errors = []
    for problem in backend_problems(scenario, backend):
        _, index, kind = problem.loc
        line = scenario.timeline[int(index)].line
        errors.append(ScenarioError(scenario.source.path, line, f"timeline[{index}].{kind}", problem.expected, problem.found or ""))
    raise_collected(errors)


def _parse(text: str, source: SourceInfo, max_instants: int, forks: tuple[Path, ...]) -> Scenario:
    root, errors = compose_text(text.removeprefix("\ufeff"), source.path)
    if root is None:
        errors.append(ScenarioError(source.path, 1, "", Scenario.expected_text(), "an empty document"))
        raise_collected(errors)
        raise AssertionError("unreachable")
    data = to_data(root)
    facts = gather_facts(data, Facts(source=source, max_instants=max_instants, forks=forks,
                                     load_history=load_history))
    try:
        scenario = Scenario.model_validate(data, context=facts)
    except ValidationError as exc:
        errors.extend(_located(issues(exc), root, source.path))
        raise_collected(errors)
        raise ScenarioError(source.path, None, "", "a valid scenario", "an invalid one") from None
    raise_collected(errors)
    check_for_backend(scenario, scenario.chain.backend)
    return scenario


def _located(found: Iterable[Issue], root: LNode, file: str) -> list[ScenarioError]:
    """Each issue at its file, line and dotted key; issues on nodes already reported are dropped."""
    errors = []
    for issue in found:
        where = _walk(root, issue.loc)
        node = where.node
        if isinstance(node, LScalar) and node.value is INVALID:
            continue
        text = issue.found
        if text is None:
            text = where.key_text if where.key_text is not None else describe(node)
        if issue.suggestion:
            text = f"{text} (did you mean {issue.suggestion!r}?)"
        line = where.key_line if text.startswith("unknown key") else where.line
        errors.append(ScenarioError(file, line, where.path, issue.expected, text))
    return errors


def locate(path: str, loc: Sequence[str | int]) -> tuple[int | None, str]:
    """(line, dotted key) of `loc` in the scenario file at `path`: for errors found at run
    time (an adopted address holding something else) that point at the key to change."""
    try:
        text = Path(path).read_text(encoding="utf-8")
        root, _errors = compose_text(text.removeprefix("\ufeff"), path)
    except (OSError, UnicodeDecodeError, ScenarioSyntaxError):
        root = None
    if root is None:
        return None, ".".join(str(step) for step in loc)
    where = _walk(root, loc)
    return where.line, where.path


class _Where:
    """Where a loc leads in the tree: the node (None if absent), its lines and dotted key."""

    def __init__(self, node: LNode | None, line: int, key_line: int, path: str, key_text: str | None) -> None:
        self.node, self.line, self.key_line, self.path, self.key_text = node, line, key_line, path, key_text


def _walk(root: LNode, loc: Sequence[str | int]) -> _Where:
    node: LNode | None = root
    path, line, key_line = "", root.line, root.line
    for index, step in enumerate(loc):
        if isinstance(node, LMapping) and step == "[key]":
            continue  # handled by the previous step
        if isinstance(node, LMapping) and isinstance(step, str):
            path = f"{path}.{step}" if path else step
            if step not in node.value:
                return _Where(None, node.line, node.line, path, None)
            key_line = node.key_lines.get(step, node.line)
            if index + 1 < len(loc) and loc[index + 1] == "[key]":
                return _Where(node.value[step], key_line, key_line, path, repr(step))
            node = node.value[step]
            line = node.line
        elif isinstance(node, LSequence) and isinstance(step, int) and 0 <= step < len(node.value):
            path = f"{path}[{step}]"
            node = node.value[step]
            line = key_line = node.line
        else:
            break  # a shorthand's scalar, or a value the model reshaped: point at it
    return _Where(node, line, key_line, path, None)
