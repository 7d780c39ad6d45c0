"""The scenario format described for machines (JSON Schema) and for people (the template).

The schema is pydantic's ``model_json_schema()`` of the model: each value type renders
the YAML as written (``1d12h``, ``0.30%``, numbers as numbers or strings), defaults are
shown the way an author writes them, and the event and expectation unions are listed
kind by kind from the registry. It is looser than the loader where JSON Schema cannot say
it (cross references, non-integral bounds): the loader stays the authority.

The template (``harness new``) is template.yaml, a runnable scenario whose timeline and
expectations are the catalogue of every kind, generated from the classes: the kinds marked
``live`` run as written (and pass), the others are shown as comments.
"""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue
from pydantic_core import CoreSchema

from harness.scenario.entries import DEF_MARK, Entry, field_of, first_paragraph
from harness.scenario.model import Event, Expectation, Scenario
from runner.strategy.validation import Choice, Syntax

__all__ = ["DIALECT", "render_template", "scenario_json_schema"]

DIALECT = "https://json-schema.org/draft/2020-12/schema"
_FAMILIES = (Event, Expectation)


def _syntax_of(schema: CoreSchema) -> Syntax | None:
    """The Syntax a core schema validates with, looking through Optional and bounds."""
    while True:
        found = (schema.get("metadata") or {}).get("syntax")
        if isinstance(found, Syntax):
            return found
        inner = schema.get("schema")
        if not isinstance(inner, dict):
            return None
        schema = inner  # type: ignore[assignment]


class _AsWritten(GenerateJsonSchema):
    """Defaults as an author writes them (``0.3%``, ``1d``), never as a float; every
    property titled (pydantic leaves $ref properties untitled)."""

    def field_title_should_be_set(self, schema: Any) -> bool:
        return True

    def default_schema(self, schema: Any) -> JsonSchemaValue:
        result = super().default_schema(schema)
        syntax = _syntax_of(schema["schema"])
        default = schema.get("default")
        if "default" in result and syntax is not None and default is not None:
            result["default"] = syntax.json_default(default)
        return result


def scenario_json_schema() -> dict[str, Any]:
    """Draft 2020-12 schema of a scenario file; same input, same dict, same key order."""
    schema = Scenario.model_json_schema(schema_generator=_AsWritten)
    defs = dict(schema.pop("$defs", {}))

    def lift(node: Any) -> Any:
        """The families' unions and the kinds' bodies become $defs (Event, DepositEvent...)."""
        if isinstance(node, dict):
            name = node.get(DEF_MARK)
            if name is None and node.get("title") in {family.__name__ for family in _FAMILIES} and "oneOf" in node:
                name = node["title"]
            if name is not None:
                defs[name] = {key: lift(value) for key, value in node.items() if key != DEF_MARK}
                return {"$ref": f"#/$defs/{name}"}
            return {key: lift(value) for key, value in node.items()}
        if isinstance(node, list):
            return [lift(item) for item in node]
        return node

    schema = lift(schema)
    return {"$schema": DIALECT, **schema, "$defs": dict(sorted(defs.items()))}


def _choices(variant: type[Entry], name: str) -> list[str]:
    """The words a field takes, when it is a vocabulary (for the catalogue's comments)."""
    field = variant.model_fields[field_of(variant, name)]
    stack: list[Any] = [*field.metadata, field.annotation]
    while stack:
        item = stack.pop()
        if isinstance(item, Choice):
            return [str(word.value) for word in item.words]
        stack.extend(getattr(item, "__metadata__", ()))
        stack.extend(getattr(item, "__args__", ()))
    return []


def _catalogue(family: type[Entry]) -> str:
    """One entry per kind: live ones as YAML, the others commented; vocabularies listed."""
    lines: list[str] = []
    for kind, variant in family.kinds.items():
        entry = f"- {{at: {variant.example_at}, {kind}: {variant.example}}}"
        prefix = "  " if variant.live else "  # "
        note = first_paragraph(variant)
        backends = getattr(variant, "backends", None)
        if backends is not None:
            names = " or ".join(sorted(str(b) for b in backends))
            note += f" Needs chain: {{backend: {names}}}."
        lines.append(f"{prefix}{entry}")
        lines.append(f"  #   {note}")
        for name in variant.own_keys():
            words = _choices(variant, name)
            if words:
                lines.append(f"  #   {name}: {' | '.join(words)}")
    return "\n".join(lines)


def render_template(name: str) -> str:
    """The commented example scenario of ``harness new NAME`` with the name filled in."""
    if not name.strip():
        raise ValueError("a scenario name must not be empty")
    text = resources.files("harness.scenario").joinpath("template.yaml").read_text("utf-8")
    escaped = json.dumps(name, ensure_ascii=False)[1:-1]  # a JSON string body is valid YAML "..."
    return (
        text.replace("{name}", escaped)
        .replace("{timeline}", _catalogue(Event))
        .replace("{expect}", _catalogue(Expectation))
    )
