"""HTML pieces of the report that task packages use for their sections (no heavy imports)."""

from __future__ import annotations

import html


def escape(value) -> str:
    return html.escape(str(value))


def table(rows, header=None) -> str:
    """An HTML table; a cell that already is a `<td ...>` element is kept as it is."""
    head = "<tr>" + "".join(f"<th>{escape(h)}</th>" for h in header) + "</tr>" if header else ""
    body = "".join("<tr>" + "".join(cell if cell.startswith("<td") else f"<td>{escape(cell)}</td>" for cell in row)
                   + "</tr>" for row in rows)
    return f"<table>{head}{body}</table>"


def pairs(rows) -> str:
    """A two-column table of (label, value)."""
    return "<table>" + "".join(f"<tr><th>{escape(k)}</th><td>{escape(v)}</td></tr>" for k, v in rows) + "</table>"
