"""Every table of the report as a CSV file: the same cells, hashes written whole."""

from __future__ import annotations

import csv
import io

from harness.report.tables import Table, text


def render_table_csv(table: Table) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(table.headers)
    for row in table.rows:
        writer.writerow([text(c) for c in row])
    return buf.getvalue()


__all__ = ["render_table_csv"]
