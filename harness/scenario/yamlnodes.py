"""YAML text -> a located tree: every value keeps the line it came from.

PyYAML's own constructors lose positions and apply YAML 1.1 typing (``NO`` -> False,
``0.1`` becomes a binary float, ``1:30`` becomes 90). A scenario needs neither: errors must point at lines and
money must never pass through a float. So we only let PyYAML *compose* nodes (which carry
marks) and type plain scalars ourselves, from their source text:

* ``null``, ``~`` or nothing -> None; ``true`` / ``false`` (any case, nothing else) -> bool;
* integers with optional sign and ``_`` separators -> int;
* decimals (``0.5``, ``1e-6``, ``2_000.25``) -> Decimal built from the text;
* anything else, and every quoted or block scalar -> str.

Hostile input is bounded here, before anything is expanded or converted: a scalar has at
most ``MAX_SCALAR`` characters (a number at most ``MAX_NUMBER``, far below Python's
4,300-digit int limit), nesting is at most ``MAX_DEPTH`` deep, and the document, with
every alias expanded, holds at most ``MAX_NODES`` values (a 1 KB "billion laughs" is
refused at the alias that crosses the limit, never expanded). A node that breaks a rule
becomes an ``INVALID`` scalar, so the model reports nothing more about it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, TypeAlias

import yaml

from harness.errors import ScenarioError, ScenarioSyntaxError

__all__ = [
    "DEFAULT_LOADER",
    "INVALID",
    "MAX_DEPTH",
    "MAX_KEY",
    "MAX_NODES",
    "MAX_NUMBER",
    "MAX_SCALAR",
    "Located",
    "LMapping",
    "LNode",
    "LScalar",
    "LSequence",
    "Scalar",
    "compose_text",
    "describe",
    "to_data",
    "to_plain",
]

Scalar: TypeAlias = None | bool | int | Decimal | str

DEFAULT_LOADER: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
"""The libyaml loader when PyYAML was built with it (much faster), else the pure one."""

_PLAIN = "!harness/plain"
_TAG = "tag:yaml.org,2002:"
_INT = re.compile(r"[+-]?\d+(?:_\d+)*")
_DECIMAL = re.compile(
    r"[+-]?(?:\d+(?:_\d+)*(?:\.(?:\d+(?:_\d+)*)?)?|\.\d+(?:_\d+)*)(?:[eE][+-]?\d+)?"
)
_MAX_FOUND = 60

MAX_SCALAR = 10_000
"""Characters in one scalar (a key, a name, a description)."""
MAX_NUMBER = 100
"""Characters in one number as written."""
MAX_KEY = 200
"""Characters in one mapping key."""
MAX_DEPTH = 32
"""Nesting of mappings and lists."""
MAX_NODES = 100_000
"""Values in the document once aliases are expanded."""


class _Invalid:
    """The value of a node the node layer already reported; validation says nothing more."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()


class Located(dict):  # type: ignore[type-arg]
    """A mapping as plain data that remembers its source line (entries record it)."""

    line: int = 0


@dataclass(frozen=True, eq=False)
class LScalar:
    """A scalar with its typed value, its source text (for messages) and its line."""

    value: Scalar
    line: int
    text: str


@dataclass(frozen=True, eq=False)
class LSequence:
    """A YAML sequence; items keep their own lines."""

    value: tuple[LNode, ...]
    line: int


@dataclass(frozen=True, eq=False)
class LMapping:
    """A YAML mapping in file order, with the line of every key (for unknown-key errors)."""

    value: dict[str, LNode]
    line: int
    key_lines: dict[str, int] = field(default_factory=dict)


LNode: TypeAlias = LScalar | LSequence | LMapping


def describe(node: LNode | None) -> str:
    """Render a value for the ``found`` part of an error the way the author wrote it."""
    if node is None:
        return "nothing (key missing)"
    if isinstance(node, LMapping):
        return "a mapping"
    if isinstance(node, LSequence):
        return "a list"
    if isinstance(node.value, str) or node.value is INVALID:
        text = str(node.value) if node.value is not INVALID else node.text
        if len(text) > _MAX_FOUND:
            text = text[: _MAX_FOUND - 3] + "..."
        return repr(text)
    if node.value is None:
        return "null"
    if len(node.text) > _MAX_FOUND:
        return node.text[: _MAX_FOUND - 3] + "..."
    return node.text


def to_plain(node: LNode | None) -> Any:
    """Drop locations: mappings -> dict (file order), sequences -> list, scalars as typed."""
    if node is None:
        return None
    if isinstance(node, LMapping):
        return {key: to_plain(value) for key, value in node.value.items()}
    if isinstance(node, LSequence):
        return [to_plain(item) for item in node.value]
    return node.value


def to_data(node: LNode) -> Any:
    """The tree as the plain values pydantic validates: mappings remember their line."""
    if isinstance(node, LMapping):
        data = Located((key, to_data(value)) for key, value in node.value.items())
        data.line = node.line
        return data
    if isinstance(node, LSequence):
        return [to_data(item) for item in node.value]
    return node.value


def plain_scalar(text: str) -> Scalar:
    """Type an untagged, unquoted scalar by the rules in the module docstring."""
    lowered = text.lower()
    if lowered in ("", "~", "null"):
        return None
    if lowered in ("true", "false"):
        return lowered == "true"
    if _INT.fullmatch(text):
        return int(text.replace("_", ""))
    if _DECIMAL.fullmatch(text):
        return Decimal(text.replace("_", ""))
    return text


def _make_loader(base: type[Any]) -> type[Any]:
    """A loader that tags every plain scalar as ours, so PyYAML's 1.1 typing never runs."""

    class _Loader(base):  # type: ignore[misc]
        def resolve(self, kind: type[yaml.Node], value: str, implicit: tuple[bool, bool]) -> str:
            if kind is yaml.ScalarNode and implicit[0]:
                return _PLAIN
            return str(super().resolve(kind, value, implicit))

    return _Loader


_LOADERS: dict[type[Any], type[Any]] = {}


def compose_text(
    text: str, file: str, loader: type[Any] | None = None
) -> tuple[LNode | None, list[ScenarioError]]:
    """Parse ``text`` into a located tree plus the non-fatal problems found on the way.

    Syntax errors raise ScenarioSyntaxError at once (nothing after them is trustworthy);
    duplicate keys and unsupported tags are returned so the decoder can add its own errors
    and the author sees everything in one run. An empty document gives ``None``.
    """
    base = loader or DEFAULT_LOADER
    if base not in _LOADERS:
        _LOADERS[base] = _make_loader(base)
    try:
        root = yaml.compose(text, Loader=_LOADERS[base])
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(file, exc) from None
    except yaml.YAMLError as exc:
        raise _reader_error(file, text, exc) from None
    except RecursionError:  # the pure-Python composer recurses; libyaml stops at its own depth
        raise ScenarioSyntaxError(file, 1, 1, f"nesting too deep (at most {MAX_DEPTH} levels)") from None
    if root is None:
        return None, []
    converter = _Converter(file)
    return converter.convert(root, ""), converter.errors


def _syntax_error(file: str, exc: yaml.MarkedYAMLError) -> ScenarioSyntaxError:
    """Turn PyYAML's marks (0-based) into the 1-based line and column people read."""
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else None
    column = mark.column + 1 if mark is not None else None
    context = exc.context
    if context and exc.context_mark is not None and exc.context_mark is not mark:
        context = f"{context} at line {exc.context_mark.line + 1}"
    problem = exc.problem or context or "unreadable YAML"
    return ScenarioSyntaxError(file, line, column, problem, context if exc.problem else None)


def _reader_error(file: str, text: str, exc: yaml.YAMLError) -> ScenarioSyntaxError:
    """Reader errors (control characters) carry an offset rather than a mark."""
    position = getattr(exc, "position", None)
    if not isinstance(position, int):
        return ScenarioSyntaxError(file, None, None, str(exc))
    line = text.count("\n", 0, position) + 1
    column = position - (text.rfind("\n", 0, position) + 1) + 1
    reason = getattr(exc, "reason", "unreadable character")
    character = getattr(exc, "character", None)
    problem = f"{reason} (#x{character:04x})" if isinstance(character, int) else str(reason)
    return ScenarioSyntaxError(file, line, column, problem)


class _Converter:
    """Walks composed nodes once; aliases reuse the converted subtree, cycles are refused."""

    def __init__(self, file: str) -> None:
        self.file = file
        self.errors: list[ScenarioError] = []
        self._done: dict[int, LNode] = {}
        self._sizes: dict[int, int] = {}
        self._active: set[int] = set()
        self._depth = 0
        self.total = 0  # values so far, aliases expanded

    def error(self, line: int, key: str, expected: str, found: str) -> None:
        self.errors.append(ScenarioError(self.file, line, key, expected, found))

    def convert(self, node: yaml.Node, path: str) -> LNode:
        ident = id(node)
        line = node.start_mark.line + 1
        if ident in self._done:  # an alias: shared, but it counts as many values as it holds
            self.total += self._sizes[ident]
            if self.total > MAX_NODES:
                return self._refuse(line, path, f"a document of at most {MAX_NODES} values with aliases expanded",
                                    f"an alias of {self._sizes[ident]} values past the limit")
            return self._done[ident]
        if ident in self._active:
            self.error(line, path, "no alias that contains itself", "a recursive alias")
            return LScalar(INVALID, line, "")
        if self._depth >= MAX_DEPTH:
            return self._refuse(line, path, f"at most {MAX_DEPTH} levels of nesting", "deeper nesting")
        before = self.total
        self.total += 1
        if self.total > MAX_NODES:
            return self._refuse(line, path, f"a document of at most {MAX_NODES} values", "more values")
        self._active.add(ident)
        self._depth += 1
        try:
            if isinstance(node, yaml.MappingNode):
                result: LNode = self._mapping(node, path, line)
            elif isinstance(node, yaml.SequenceNode):
                result = self._sequence(node, path, line)
            else:
                result = self._scalar(node, path, line)
        finally:
            self._active.discard(ident)
            self._depth -= 1
        self._done[ident] = result
        self._sizes[ident] = self.total - before
        return result

    def _refuse(self, line: int, path: str, expected: str, found: str) -> LScalar:
        """Report once, at the first node past a limit, and stop converting."""
        if not self._refused:
            self._refused = True
            self.error(line, path, expected, found)
        return LScalar(INVALID, line, "")

    _refused = False

    def _scalar(self, node: yaml.Node, path: str, line: int) -> LScalar:
        text = str(node.value)
        tag = node.tag
        if len(text) > MAX_SCALAR:
            self.error(line, path, f"a value of at most {MAX_SCALAR} characters", f"{len(text)} characters")
            return LScalar(INVALID, line, text[:_MAX_FOUND])
        if tag in (_PLAIN, _TAG + "int", _TAG + "float") and len(text) > MAX_NUMBER and _DECIMAL.fullmatch(text):
            self.error(line, path, f"a number of at most {MAX_NUMBER} characters", f"a number of {len(text)}")
            return LScalar(INVALID, line, text[:_MAX_FOUND])
        if tag == _PLAIN:
            return LScalar(plain_scalar(text), line, text)
        if tag == _TAG + "str":
            return LScalar(text, line, text)
        if tag in (_TAG + "int", _TAG + "float", _TAG + "bool", _TAG + "null"):
            value = plain_scalar(text)
            wanted = tag[len(_TAG) :]
            if wanted == "float" and isinstance(value, int) and not isinstance(value, bool):
                value = Decimal(value)
            kinds = {"int": int, "float": Decimal, "bool": bool, "null": type(None)}
            ok = isinstance(value, kinds[wanted]) and (wanted == "bool") == isinstance(value, bool)
            if ok:
                return LScalar(value, line, text)
            self.error(line, path, f"a value matching its tag !!{wanted}", repr(text))
            return LScalar(INVALID, line, text)
        self.error(line, path, "an untagged value (or !!str, !!int, !!float)", f"tag {tag!r}")
        return LScalar(INVALID, line, text)

    def _sequence(self, node: yaml.Node, path: str, line: int) -> LSequence:
        if node.tag != _TAG + "seq":
            self.error(line, path, "a plain YAML list", f"tag {node.tag!r}")
        items = tuple(self.convert(item, f"{path}[{i}]") for i, item in enumerate(node.value))
        return LSequence(items, line)

    def _mapping(self, node: yaml.Node, path: str, line: int) -> LMapping:
        if node.tag != _TAG + "map":
            self.error(line, path, "a plain YAML mapping", f"tag {node.tag!r}")
        explicit = {
            key.value
            for key, _ in node.value
            if isinstance(key, yaml.ScalarNode) and not _is_merge(key)
        }
        values: dict[str, LNode] = {}
        key_lines: dict[str, int] = {}
        for key_node, value_node in node.value:
            key_line = key_node.start_mark.line + 1
            if not isinstance(key_node, yaml.ScalarNode):
                self.error(key_line, path, "a plain string key", "a mapping or list as key")
                continue
            if len(str(key_node.value)) > MAX_KEY:
                self.error(key_line, path, f"a key of at most {MAX_KEY} characters", f"a key of {len(str(key_node.value))}")
                continue
            if _is_merge(key_node):
                for name, merged, merged_line in self._merged(value_node, path):
                    if name not in explicit and name not in values:
                        values[name] = merged
                        key_lines[name] = merged_line
                continue
            name = str(key_node.value)
            child = f"{path}.{name}" if path else name
            if name in key_lines:
                found = f"a second {name!r} (first at line {key_lines[name]})"
                self.error(key_line, child, "each key at most once in a mapping", found)
                continue
            values[name] = self.convert(value_node, child)
            key_lines[name] = key_line
        return LMapping(values, line, key_lines)

    def _merged(self, node: yaml.Node, path: str) -> list[tuple[str, LNode, int]]:
        """Entries brought in by ``<<: *anchor`` (or a list of anchors, earlier ones win)."""
        sources = node.value if isinstance(node, yaml.SequenceNode) else [node]
        entries: list[tuple[str, LNode, int]] = []
        for source in sources:
            converted = self.convert(source, path)
            if not isinstance(converted, LMapping):
                line = source.start_mark.line + 1
                self.error(
                    line, path, "a mapping (or list of mappings) after <<", describe(converted)
                )
                continue
            for name, value in converted.value.items():
                entries.append((name, value, converted.key_lines[name]))
        return entries


def _is_merge(key: yaml.Node) -> bool:
    """``<<`` written plainly is YAML's merge key; quoted ``'<<'`` is an ordinary key."""
    return bool(key.tag in (_PLAIN, _TAG + "merge") and key.value == "<<")
