"""One generic decoder from the located YAML tree to the frozen dataclasses of model.py.

It reads nothing but type hints and field metadata (vocabulary in model.py's docstring), so
the model stays the single source of truth and schema.py can walk the same information.
It never stops at the first problem: every error is recorded with file, line and dotted
key, decoding carries on with the next value, and the caller raises them all at once.

Order matters in one place only: fields are decoded in declaration order and may
``publish`` their value as a *fact* (clock.start, the tokens, the investors...). Later
fields use facts to anchor absolute times or pick defaults; cross-reference ``checks`` run
after the whole document so they can look forward too (``reserve`` before ``tokens``).
A value that failed to decode is not published, so the checks that depend on it are
skipped instead of piling follow-on errors onto the one that matters.
"""

from __future__ import annotations

import dataclasses
import difflib
import hashlib
import os
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import MISSING, Field
from datetime import datetime
from decimal import Decimal
from functools import cache
from pathlib import Path
from types import NoneType, UnionType
from typing import Any, Literal, TypeVar, Union, get_args, get_origin, get_type_hints

from harness.errors import ScenarioError, ScenarioSyntaxError, raise_collected
from harness.scenario import quantities as q
from harness.scenario.model import Mismatch, Scenario, SourceInfo
from harness.scenario.yamlnodes import (
    LMapping,
    LNode,
    LScalar,
    LSequence,
    compose_text,
    describe,
    to_plain,
)

__all__ = [
    "Decoder",
    "INVALID",
    "bounds_phrase",
    "closest",
    "expected_text",
    "grouped_fields",
    "has_default",
    "null_means_default",
    "load_scenario",
    "parse_scenario_text",
    "scalar_kind",
    "split_optional",
    "type_hints",
    "variants_of",
    "yaml_fields",
    "yaml_key",
]

T = TypeVar("T")


class _Invalid:
    """A value whose decoding failed; its error is already recorded, so it is never reported."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID: Any = _Invalid()

_CONTAINER_KEYS = frozenset({"min_items", "unique", "unique_by", "key_pattern", "key_help"})
_SCALAR_HELP = {
    "string": "a string",
    "integer": "an integer",
    "boolean": "true or false",
    "amount": q.AMOUNT_HELP,
    "percent": q.PERCENT_HELP,
    "percent_sign": "a percentage like 50%",
    "duration": q.DURATION_HELP,
    "datetime": q.DATETIME_HELP,
    "time_offset": q.TIME_HELP,
}
_NOUNS = {
    "integer": "integer",
    "amount": "amount",
    "percent": "percentage",
    "percent_sign": "percentage",
    "duration": "duration",
    "time_offset": "time",
}
_FORMATS: dict[str, Callable[[Any], str]] = {
    "integer": str,
    "amount": q.format_decimal,
    "percent": q.format_percent,
    "percent_sign": q.format_percent,
    "duration": q.format_duration,
    "time_offset": q.format_duration,
}


# -- introspection shared with schema.py ----------------------------------------------------


@cache
def type_hints(cls: type) -> dict[str, Any]:
    """Resolved annotations of a dataclass (the model uses postponed annotations)."""
    return get_type_hints(cls)


def yaml_fields(cls: type) -> list[Field[Any]]:
    """Fields written in YAML, in declaration order (``line`` and ``source`` are not)."""
    return [f for f in dataclasses.fields(cls) if f.metadata.get("yaml", True)]


def yaml_key(f: Field[Any]) -> str:
    """The key a field is written under (several fields may share one)."""
    return str(f.metadata.get("yaml_key", f.name))


def grouped_fields(fields: Sequence[Field[Any]]) -> dict[str, list[Field[Any]]]:
    """Fields by YAML key, keys in first-declaration order."""
    groups: dict[str, list[Field[Any]]] = {}
    for f in fields:
        groups.setdefault(yaml_key(f), []).append(f)
    return groups


def variants_of(cls: type) -> tuple[type, ...]:
    """The kinds of a keyed union (Event, Expectation); empty for ordinary dataclasses."""
    variants = cls.__dict__.get("variants", ())
    return tuple(variants)


def has_default(f: Field[Any]) -> bool:
    """Whether the key may be left out of the YAML."""
    return (
        f.default is not MISSING or f.default_factory is not MISSING or "default_from" in f.metadata
    )


def null_means_default(f: Field[Any], hint: Any) -> bool:
    """An empty ``timeline:`` (every entry commented out) means the default, not an error.

    Only for lists and mappings with a default: for scalars an explicit null is a value.
    """
    return get_origin(hint) in (tuple, dict) and has_default(f)


def split_optional(hint: Any) -> tuple[Any, bool]:
    """``X | None`` -> (X, True); anything else -> (hint, False)."""
    if get_origin(hint) in (Union, UnionType):
        rest = [arg for arg in get_args(hint) if arg is not NoneType]
        if len(rest) != 1:
            raise TypeError(f"unsupported union in the scenario model: {hint}")
        return rest[0], len(rest) < len(get_args(hint))
    return hint, False


def scalar_kind(hint: Any, meta: Mapping[str, Any]) -> str:
    """How a scalar field is written: from metadata ``kind`` or else from its type."""
    if "kind" in meta:
        return str(meta["kind"])
    defaults = {str: "string", bool: "boolean", int: "integer", Decimal: "amount"}
    defaults_by_name = {"timedelta": "duration", "datetime": "datetime"}
    if hint in defaults:
        return defaults[hint]
    name = getattr(hint, "__name__", "")
    if name in defaults_by_name:
        return defaults_by_name[name]
    raise TypeError(f"no scalar kind for {hint!r}")


def expected_text(hint: Any, meta: Mapping[str, Any]) -> str:
    """What a value of this type looks like, to finish "expected ..."."""
    if "expected" in meta:
        return str(meta["expected"])
    hint, _ = split_optional(hint)
    origin = get_origin(hint)
    if hint is Any:
        return "any value"
    if origin is Literal:
        return "one of " + ", ".join(repr(choice) for choice in get_args(hint))
    if origin is tuple:
        return "a list"
    if origin is dict:
        return "a mapping"
    if dataclasses.is_dataclass(hint):
        assert isinstance(hint, type)
        keys = ", ".join(grouped_fields(yaml_fields(hint)))
        variants = variants_of(hint)
        if variants:
            kinds = ", ".join(variant.kind for variant in variants)  # type: ignore[attr-defined]
            return f"a mapping with {keys} and one {hint.variant_noun} ({kinds})"  # type: ignore[attr-defined]
        return f"a mapping with keys {keys}"
    kind = scalar_kind(hint, meta)
    if kind == "string" and "pattern_help" in meta:
        return str(meta["pattern_help"])
    if kind == "time_offset" and meta.get("allow_end"):
        return f"{q.TIME_HELP} or end"
    return _SCALAR_HELP[kind]


def bounds_phrase(kind: str, meta: Mapping[str, Any]) -> str | None:
    """Bounds as words: "a positive amount", "a percentage >= 0% and < 10%"; None if unbounded."""
    low, x_low = meta.get("min"), meta.get("exclusive_min")
    high, x_high = meta.get("max"), meta.get("exclusive_max")
    words: list[str] = ["non-zero"] if meta.get("nonzero") else []
    conditions: list[str] = []
    one_sided = high is None and x_high is None
    if one_sided and low is None and x_low is not None and not x_low:
        words.append("positive")
    elif one_sided and x_low is None and low is not None and not low:
        words.append("non-negative")
    else:
        show = _FORMATS.get(kind, str)
        for operator, bound in ((">=", low), (">", x_low), ("<=", high), ("<", x_high)):
            if bound is not None:
                conditions.append(f"{operator} {show(bound)}")
    if not words and not conditions:
        return None
    phrase = " ".join([*words, _NOUNS.get(kind, "value")])
    article = "an" if phrase[0] in "aeiou" else "a"
    tail = " " + " and ".join(conditions) if conditions else ""
    return f"{article} {phrase}{tail}"


def _within_bounds(value: Any, meta: Mapping[str, Any]) -> bool:
    low, x_low = meta.get("min"), meta.get("exclusive_min")
    high, x_high = meta.get("max"), meta.get("exclusive_max")
    return not (
        (low is not None and value < low)
        or (x_low is not None and value <= x_low)
        or (high is not None and value > high)
        or (x_high is not None and value >= x_high)
        or (meta.get("nonzero") and not value)
    )


def closest(value: str, choices: Sequence[str]) -> str | None:
    """The one close spelling worth suggesting, if any."""
    matches = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
    return matches[0] if matches else None


def _join(path: str, key: str) -> str:
    return f"{path}.{key}" if path else key


def _with_suggestion(found: str, value: object, choices: Sequence[str]) -> str:
    suggestion = closest(value, choices) if isinstance(value, str) and choices else None
    return f"{found} (did you mean {suggestion!r}?)" if suggestion else found


@dataclasses.dataclass(frozen=True)
class _Source:
    """The mapping a group of fields is read from (None when the entry used a shorthand)."""

    mapping: LMapping | None
    path: str
    line: int


@dataclasses.dataclass(frozen=True)
class _Deferred:
    check: Callable[[Any, Mapping[str, Any]], Mismatch | None]
    value: Any
    node: LNode
    path: str


# -- the decoder --------------------------------------------------------------------------


class Decoder:
    """Decodes one document; ``errors`` holds every problem found (pre-seeded by the caller)."""

    def __init__(
        self,
        file: str,
        *,
        injected: Mapping[str, Any] | None = None,
        errors: Sequence[ScenarioError] = (),
    ) -> None:
        self.file = file
        self.errors: list[ScenarioError] = list(errors)
        self.facts: dict[str, Any] = {}
        self._injected = dict(injected or {})
        self._deferred: list[_Deferred] = []

    def error(self, line: int | None, key: str, expected: str, found: str) -> None:
        """Record one problem; decoding goes on."""
        self.errors.append(ScenarioError(self.file, line, key, expected, found))

    def decode_document(self, cls: type[T], root: LNode | None) -> T | None:
        """Decode the whole document; None when anything (even a YAML-level problem) failed."""
        if root is None:
            self.error(1, "", expected_text(cls, {}), "an empty document")
            return None
        result = self.value(cls, {}, root, "")
        for deferred in self._deferred:
            self._run_check(deferred)
        if self.errors or result is INVALID:
            return None
        return result  # type: ignore[no-any-return]

    def value(self, hint: Any, meta: Mapping[str, Any], node: LNode, path: str) -> Any:
        """Decode ``node`` as ``hint``; returns INVALID after recording an error."""
        if hint is Any:
            return to_plain(node)
        inner, optional = split_optional(hint)
        if optional:
            if isinstance(node, LScalar) and node.value is None:
                return None
            return self.value(inner, meta, node, path)
        origin = get_origin(hint)
        if origin is Literal:
            return self._literal(hint, node, path)
        if origin is tuple:
            return self._tuple(hint, meta, node, path)
        if origin is dict:
            return self._dict(hint, meta, node, path)
        if dataclasses.is_dataclass(hint) and isinstance(hint, type):
            if variants_of(hint):
                return self._keyed(hint, node, path)
            return self._dataclass(hint, node, path)
        return self._scalar(hint, meta, node, path)

    # -- containers ----------------------------------------------------------------------

    def _literal(self, hint: Any, node: LNode, path: str) -> Any:
        choices = get_args(hint)
        raw = node.value if isinstance(node, LScalar) else None
        if isinstance(raw, str) and raw in choices:
            return raw
        found = _with_suggestion(describe(node), raw, [str(choice) for choice in choices])
        self.error(node.line, path, expected_text(hint, {}), found)
        return INVALID

    def _tuple(self, hint: Any, meta: Mapping[str, Any], node: LNode, path: str) -> Any:
        if not isinstance(node, LSequence):
            self.error(node.line, path, expected_text(hint, meta), describe(node))
            return INVALID
        item_hint = get_args(hint)[0]
        leaf = {k: v for k, v in meta.items() if k not in _CONTAINER_KEYS}
        minimum = meta.get("min_items", 0)
        if len(node.value) < minimum:
            expected = "a non-empty list" if minimum == 1 else f"a list of at least {minimum} items"
            found = "an empty list" if not node.value else f"a list of {len(node.value)}"
            self.error(node.line, path, expected, found)
        items = [
            self.value(item_hint, leaf, item, f"{path}[{i}]") for i, item in enumerate(node.value)
        ]
        ok = len(node.value) >= minimum and self._unique_items(meta, node, items, path)
        if not ok or any(item is INVALID for item in items):
            return INVALID
        return tuple(items)

    def _unique_items(
        self, meta: Mapping[str, Any], node: LSequence, items: list[Any], path: str
    ) -> bool:
        """``unique`` compares the items, ``unique_by`` one attribute of dataclass items."""
        attribute = meta.get("unique_by")
        if not attribute and not meta.get("unique"):
            return True
        first_lines: dict[Any, int] = {}
        ok = True
        for i, (item, item_node) in enumerate(zip(items, node.value, strict=True)):
            if item is INVALID:
                continue
            where, key, located = item_node, f"{path}[{i}]", item_node
            if attribute:
                item = getattr(item, attribute)
                key = _join(key, attribute)
                if isinstance(item_node, LMapping) and attribute in item_node.value:
                    located = item_node.value[attribute]
                    where = located
            if item in first_lines:
                ok = False
                what = f"each {attribute}" if attribute else "each item"
                found = f"{describe(located)} again (first at line {first_lines[item]})"
                self.error(where.line, key, f"{what} at most once", found)
            else:
                first_lines[item] = where.line
        return ok

    def _dict(self, hint: Any, meta: Mapping[str, Any], node: LNode, path: str) -> Any:
        if not isinstance(node, LMapping):
            self.error(node.line, path, expected_text(hint, meta), describe(node))
            return INVALID
        value_hint = get_args(hint)[1]
        leaf = {k: v for k, v in meta.items() if k not in _CONTAINER_KEYS}
        ok = True
        if len(node.value) < meta.get("min_items", 0):
            self.error(node.line, path, "a non-empty mapping", "an empty mapping")
            ok = False
        pattern = meta.get("key_pattern")
        result: dict[str, Any] = {}
        for key, child in node.value.items():
            child_path = _join(path, key)
            if pattern and not re.fullmatch(pattern, key):
                expected = meta.get("key_help", f"a key matching {pattern}")
                self.error(node.key_lines[key], child_path, expected, repr(key))
                ok = False
                continue
            result[key] = self.value(value_hint, leaf, child, child_path)
        if not ok or any(value is INVALID for value in result.values()):
            return INVALID
        return result

    # -- dataclasses ---------------------------------------------------------------------

    def _dataclass(self, cls: type, node: LNode, path: str) -> Any:
        if not isinstance(node, LMapping):
            self.error(node.line, path, expected_text(cls, {}), describe(node))
            return INVALID
        fields = yaml_fields(cls)
        self._unknown_keys(node, path, list(grouped_fields(fields)))
        source = _Source(node, path, node.line)
        values = self._fields(cls, fields, source)
        return self._build(cls, values, {f.name: source for f in fields}, node.line)

    def _keyed(self, base: type, node: LNode, path: str) -> Any:
        """An entry like ``{at: 2d, price_shock: {...}}``: base fields plus one kind key."""
        if not isinstance(node, LMapping):
            self.error(node.line, path, expected_text(base, {}), describe(node))
            return INVALID
        kinds: dict[str, type] = {v.kind: v for v in variants_of(base)}  # type: ignore[attr-defined]
        noun: str = base.variant_noun  # type: ignore[attr-defined]
        base_fields = yaml_fields(base)
        allowed = [*grouped_fields(base_fields), *kinds]
        unknown = self._unknown_keys(node, path, allowed, expected_text(base, {}))
        present = [key for key in node.value if key in kinds]
        outer = _Source(node, path, node.line)
        if not present:
            if not unknown:
                self.error(node.line, path, f"one {noun} among {', '.join(kinds)}", describe(None))
            self._fields(base, base_fields, outer)
            return INVALID
        for extra in present[1:]:
            found = f"{extra!r} besides {present[0]!r}"
            self.error(node.key_lines[extra], _join(path, extra), f"one {noun} per entry", found)
        kind = present[0]
        variant = kinds[kind]
        values = self._fields(variant, base_fields, outer)
        sources = {f.name: outer for f in base_fields}
        own = [f for f in yaml_fields(variant) if f.name not in sources]
        body = self._variant_body(variant, own, node, kind, _join(path, kind))
        if body is None or present[1:]:
            return INVALID
        inner_values, inner = body
        values.update(inner_values)
        sources.update({f.name: inner for f in own})
        return self._build(variant, values, sources, node.line)

    def _variant_body(
        self, variant: type, own: list[Field[Any]], entry: LMapping, kind: str, path: str
    ) -> tuple[dict[str, Any], _Source] | None:
        """The kind's value: a mapping of its fields, null (all defaults) or a shorthand."""
        body = entry.value[kind]
        line = entry.key_lines[kind]
        shorthand = [f for f in own if f.metadata.get("shorthand")]
        if isinstance(body, LMapping):
            self._unknown_keys(body, path, list(grouped_fields(own)))
            source = _Source(body, path, body.line)
            return self._fields(variant, own, source), source
        source = _Source(None, path, line)
        if shorthand:
            hints = type_hints(variant)
            values = {
                f.name: self._field(
                    f, hints[f.name], body if f is shorthand[0] else None, path, source
                )
                for f in own
            }
            return values, source
        if isinstance(body, LScalar) and body.value is None:
            return self._fields(variant, own, source), source
        keys = ", ".join(grouped_fields(own))
        self.error(body.line, path, f"a mapping with keys {keys}", describe(body))
        return None

    def _fields(self, cls: type, fields: list[Field[Any]], source: _Source) -> dict[str, Any]:
        hints = type_hints(cls)
        values: dict[str, Any] = {}
        for key, group in grouped_fields(fields).items():
            child = source.mapping.value.get(key) if source.mapping is not None else None
            path = _join(source.path, key)
            if len(group) == 1:
                f = group[0]
                values[f.name] = self._field(f, hints[f.name], child, path, source)
            else:
                values.update(self._routed(group, hints, child, path, source))
        return values

    def _field(
        self, f: Field[Any], hint: Any, child: LNode | None, path: str, source: _Source
    ) -> Any:
        meta = f.metadata
        if isinstance(child, LScalar) and child.value is None and null_means_default(f, hint):
            child = None
        if child is None:
            value = self._default(f, hint, path, source)
        else:
            value = self.value(hint, meta, child, path)
            if value is not INVALID and value is not None:
                for check in meta.get("checks", ()):
                    self._deferred.append(_Deferred(check, value, child, path))
        if value is not INVALID and "publish" in meta:
            self.facts[meta["publish"]] = value
        return value

    def _default(self, f: Field[Any], hint: Any, path: str, source: _Source) -> Any:
        if "default_from" in f.metadata:
            value = f.metadata["default_from"](self.facts)
            return INVALID if value is None else value  # the fact's own error is recorded
        if f.default is not MISSING:
            return f.default
        if f.default_factory is not MISSING:
            return f.default_factory()
        self.error(source.line, path, expected_text(hint, f.metadata), describe(None))
        return INVALID

    def _routed(
        self,
        group: list[Field[Any]],
        hints: dict[str, Any],
        child: LNode | None,
        path: str,
        source: _Source,
    ) -> dict[str, Any]:
        """One key feeding several optional fields: the first whose parser accepts it wins."""
        values: dict[str, Any] = {f.name: None for f in group}
        if child is None or (isinstance(child, LScalar) and child.value is None):
            return values  # exactly_one reports it
        for f in group:
            inner, _ = split_optional(hints[f.name])
            if isinstance(child, LScalar) and self._parses(inner, f.metadata, child):
                values[f.name] = self._field(f, hints[f.name], child, path, source)
                return values
        expected = " or ".join(expected_text(hints[f.name], f.metadata) for f in group)
        self.error(child.line, path, expected, describe(child))
        values[group[0].name] = INVALID
        return values

    def _build(
        self, cls: type, values: dict[str, Any], sources: dict[str, _Source], line: int
    ) -> Any:
        """Inject loader-provided fields, check field groups, construct, ask ``problems()``."""
        for f in dataclasses.fields(cls):
            inject = f.metadata.get("inject")
            if inject == "line":
                values[f.name] = line
            elif inject in self._injected:
                values[f.name] = self._injected[inject]
        groups_ok = self._check_groups(cls, values, sources)
        if not groups_ok or any(value is INVALID for value in values.values()):
            return INVALID
        built = cls(**values)
        problems = list(getattr(built, "problems", lambda: ())())
        for name, expected in problems:
            where, key, node = self._locate(cls, name, sources[name])
            self.error(where, key, expected, describe(node))
        return INVALID if problems else built

    def _check_groups(self, cls: type, values: dict[str, Any], sources: dict[str, _Source]) -> bool:
        ok = True
        by_name = {f.name: f for f in dataclasses.fields(cls)}
        hints = type_hints(cls)
        rules = [(group, True) for group in getattr(cls, "exactly_one", ())]
        rules += [(group, False) for group in getattr(cls, "at_least_one", ())]
        for group, exactly in rules:
            if any(values.get(name) is INVALID for name in group):
                continue
            given = [name for name in group if values.get(name) is not None]
            if len(given) == 1 or (given and not exactly):
                continue
            ok = False
            keys = list(dict.fromkeys(yaml_key(by_name[name]) for name in group))
            source = sources[group[0]]
            if len(keys) == 1:
                where, key, node = self._locate(cls, group[0], source)
                expected = " or ".join(
                    expected_text(hints[name], by_name[name].metadata) for name in group
                )
                self.error(where, key, expected, describe(node))
                continue
            rule = "exactly one" if exactly else "at least one"
            expected = f"{rule} of {' or '.join(keys)}"
            if given:
                where, key, _ = self._locate(cls, given[1], source)
                self.error(where, key, expected, "both" if len(given) == 2 else "several")
            else:
                self.error(
                    source.line, source.path, expected, "neither" if len(keys) == 2 else "none"
                )
        return ok

    def _locate(self, cls: type, name: str, source: _Source) -> tuple[int, str, LNode | None]:
        """Line, dotted key and node of a field, for errors raised after decoding."""
        key = yaml_key(next(f for f in dataclasses.fields(cls) if f.name == name))
        path = _join(source.path, key)
        if source.mapping is None:
            return source.line, path, None
        node = source.mapping.value.get(key)
        return source.mapping.key_lines.get(key, source.line), path, node

    def _unknown_keys(
        self, node: LMapping, path: str, allowed: list[str], expected: str | None = None
    ) -> list[str]:
        unknown = [key for key in node.value if key not in allowed]
        for key in unknown:
            found = _with_suggestion(f"unknown key {key!r}", key, allowed)
            wanted = expected or f"one of the keys {', '.join(allowed)}"
            self.error(node.key_lines[key], _join(path, key), wanted, found)
        return unknown

    # -- scalars -------------------------------------------------------------------------

    def _scalar(self, hint: Any, meta: Mapping[str, Any], node: LNode, path: str) -> Any:
        kind = scalar_kind(hint, meta)
        if not isinstance(node, LScalar):
            self.error(node.line, path, expected_text(hint, meta), describe(node))
            return INVALID
        try:
            value = self._parse(kind, meta, node.value)
        except q.QuantityError as exc:
            expected = meta.get("expected") or (
                meta.get("pattern_help") if kind == "string" else None
            )
            self.error(node.line, path, expected or exc.expected, describe(node))
            return INVALID
        if value is INVALID:
            return INVALID
        problem = self._constraint(kind, meta, value)
        if problem is not None:
            self.error(node.line, path, problem, describe(node))
            return INVALID
        return value

    def _parses(self, hint: Any, meta: Mapping[str, Any], node: LScalar) -> bool:
        try:
            self._parse(scalar_kind(hint, meta), meta, node.value)
        except q.QuantityError:
            return False
        return True

    def _parse(self, kind: str, meta: Mapping[str, Any], raw: Any) -> Any:
        if kind == "string":
            if isinstance(raw, str):
                return raw
        elif kind == "integer":
            if isinstance(raw, int) and not isinstance(raw, bool):
                return raw
        elif kind == "boolean":
            if isinstance(raw, bool):
                return raw
        elif kind == "amount":
            return q.parse_amount(raw)
        elif kind in ("percent", "percent_sign"):
            return q.parse_percent(raw, sign_required=kind == "percent_sign")
        elif kind == "duration":
            return q.parse_duration(raw)
        elif kind == "datetime":
            return q.parse_datetime(raw)
        elif kind == "time_offset":
            return self._time_offset(meta, raw)
        else:
            raise TypeError(f"unknown scalar kind {kind!r}")
        raise q.QuantityError(_SCALAR_HELP[kind])

    def _time_offset(self, meta: Mapping[str, Any], raw: Any) -> Any:
        """A duration after clock.start, an absolute datetime, or ``end`` (= clock.until)."""
        allow_end = bool(meta.get("allow_end"))
        if allow_end and raw == "end":
            return self.facts.get("clock_until", INVALID)
        try:
            parsed = q.parse_time(raw)
        except q.QuantityError as exc:
            if allow_end and exc.expected == q.TIME_HELP:
                raise q.QuantityError(f"{q.TIME_HELP} or end") from None
            raise
        if isinstance(parsed, datetime):
            start = self.facts.get("clock_start")
            return INVALID if start is None else parsed - start
        return parsed

    def _constraint(self, kind: str, meta: Mapping[str, Any], value: Any) -> str | None:
        if kind == "string":
            if len(value) < meta.get("min_length", 0):
                return "a non-empty string"
            pattern = meta.get("pattern")
            if pattern and not re.fullmatch(pattern, value):
                return str(meta.get("pattern_help", f"a string matching {pattern}"))
            return None
        if kind == "boolean" or _within_bounds(value, meta):
            return None
        return bounds_phrase(kind, meta)

    def _run_check(self, deferred: _Deferred) -> None:
        mismatch: Mismatch | None = deferred.check(deferred.value, self.facts)
        if mismatch is None:
            return
        found = describe(deferred.node)
        if mismatch.suggestion:
            found = f"{found} (did you mean {mismatch.suggestion!r}?)"
        else:
            found = _with_suggestion(found, deferred.value, mismatch.choices)
        self.error(deferred.node.line, deferred.path, mismatch.expected, found)


# -- scenario entry points -----------------------------------------------------------------


def parse_scenario_text(text: str, file: str = "<string>") -> Scenario:
    """Parse a scenario from text; ``file`` only labels errors and ``source.path``."""
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return _parse(text, SourceInfo(path=file, sha256=digest))


def load_scenario(path: str | os.PathLike[str]) -> Scenario:
    """Read and parse a scenario file; errors name the path exactly as given."""
    file = os.fspath(path)
    try:
        data = Path(file).read_bytes()
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise ScenarioError(file, None, "", "a readable scenario file", reason) from exc
    digest = hashlib.sha256(data).hexdigest()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        problem = f"the file is not UTF-8 text (byte 0x{data[exc.start]:02x})"
        raise ScenarioSyntaxError(file, line, column, problem) from None
    return _parse(text, SourceInfo(path=file, sha256=digest))


def _parse(text: str, source: SourceInfo) -> Scenario:
    root, errors = compose_text(text.removeprefix("\ufeff"), source.path)
    decoder = Decoder(source.path, injected={"source": source}, errors=errors)
    scenario = decoder.decode_document(Scenario, root)
    raise_collected(decoder.errors)
    if scenario is None:  # pragma: no cover - a decoder bug, not a user error
        raise RuntimeError(f"{source.path}: scenario failed to decode without an error")
    return scenario
