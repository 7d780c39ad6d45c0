"""The report as JSON: the same numbers, amounts as decimal strings, keys sorted."""

from __future__ import annotations

import json

from harness.report.model import Report, to_document


def render_json(report: Report) -> str:
    return json.dumps(to_document(report), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
