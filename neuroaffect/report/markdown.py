"""The one Markdown table writer of the project, and the small helpers every report shares.

Every table of :mod:`neuroaffect.report` is written by :func:`table` (or, one row at a time, by
:func:`table_row`), so that a change of layout is made once. No scientific package is imported here,
so that rendering a page stays cheap. The layout is GitHub's pipe table:
a header row, a ``|---|`` separator, one line per row (``docs/README.md`` lists what each package reports).
"""

from __future__ import annotations

import math
import re
from typing import Callable, Mapping, Sequence

__all__ = ["demote_headings", "format_cell", "table", "table_lines", "table_row"]


def format_cell(value, fmt: str | Callable | None = None, missing: str = "-") -> str:
    """One cell's text.

    Parameters
    ----------
    value : object
        The value; ``None`` and non-finite floats are written as ``missing`` when ``fmt`` is a
        format spec.
    fmt : str | callable | None
        A :func:`format` spec (e.g. ``".3f"``), a callable ``value -> str``, or ``None`` (``str``).
    missing : str
        Text of a missing value.

    Returns
    -------
    text : str
    """
    if callable(fmt):
        return fmt(value)
    if fmt is None:
        return str(value)
    if value is None or (hasattr(value, "__float__") and not isinstance(value, int) and not math.isfinite(value)):
        return missing
    return format(value, fmt)


def table_row(cells: Sequence, *, tight_empty: bool = False) -> str:
    """One pipe-table line: ``| a | b |``.

    Parameters
    ----------
    cells : sequence of str
        The cells' text, in column order.
    tight_empty : bool
        Write an empty cell as ``| |`` (one space) instead of ``|  |`` (two).

    Returns
    -------
    line : str
    """
    out = "|"
    for c in cells:
        c = str(c)
        out += " |" if (tight_empty and not c) else f" {c} |"
    return out


def table_lines(rows, columns: Sequence | Mapping, formats: Mapping | None = None, *,
                tight_empty: bool = False) -> list[str]:
    """A pipe table as lines: header, separator, one line per row.

    Parameters
    ----------
    rows : pandas.DataFrame | sequence of mapping | sequence of sequence
        The rows; a mapping (or a DataFrame's row) is read at the keys of ``columns``, a sequence
        in column order.
    columns : sequence of str | mapping of str -> str
        Column titles; a mapping gives key -> title (the keys pick the cells of mapping rows).
    formats : mapping of str -> (str | callable) | None
        Per key (or title, for a sequence of titles): a format spec or a callable ``value -> str``
        (:func:`format_cell`); a column left out is written with ``str``.
    tight_empty : bool
        See :func:`table_row`.

    Returns
    -------
    lines : list of str
    """
    keys = list(columns.keys()) if isinstance(columns, Mapping) else list(columns)
    titles = list(columns.values()) if isinstance(columns, Mapping) else list(columns)
    formats = formats or {}
    if hasattr(rows, "iterrows"):
        rows = [r for _, r in rows.iterrows()]
    lines = [table_row(titles), "|---" * len(titles) + "|"]
    for r in rows:
        values = [r[k] for k in keys] if isinstance(r, Mapping) or hasattr(r, "iloc") else list(r)
        lines.append(table_row([format_cell(v, formats.get(k)) for k, v in zip(keys, values)],
                               tight_empty=tight_empty))
    return lines


def table(rows, columns: Sequence | Mapping, formats: Mapping | None = None, *, tight_empty: bool = False) -> str:
    """A pipe table as Markdown text (lines of :func:`table_lines`, newline-separated, no final newline)."""
    return "\n".join(table_lines(rows, columns, formats, tight_empty=tight_empty))


def demote_headings(md: str) -> str:
    """Every ATX heading one level down (``#`` -> ``##``), so that a page's title becomes a section."""
    return re.sub(r"^(#{1,5}) ", r"#\1 ", md, flags=re.M)
