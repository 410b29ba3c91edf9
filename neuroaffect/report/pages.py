"""Markdown reports as self-contained HTML pages, for the Snakemake report, and the page that gathers
the headline tables for readers of the repository (:func:`compose_readme`).

A Snakemake report shows an HTML file in the page and a Markdown file only as a download. The pages
written here carry their own style sheet and load nothing (no scripts, fonts or images are fetched).
This module imports neither pandas nor torch, so that rendering a table costs a fraction of a second.
"""

from __future__ import annotations

import html
import re
from pathlib import Path
from typing import Sequence

from .._utils import DatasetFormatError, atomic_write_text
from .markdown import demote_headings

__all__ = ["compose_readme", "markdown_to_html", "render_markdown"]

#: A cell is right-aligned when it holds only numbers, signs, separators, units and dashes.
_NUMERIC = re.compile(r"^(?=.*[\d-])[\s\d.,+\-−–±%/()e]+$")

_CSS = """
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933;
       margin: 16px 20px; max-width: 1400px; }
h1 { font-size: 1.3em; margin: 0 0 .4em; } h2 { font-size: 1.1em; margin: 1.4em 0 .4em; }
h3 { font-size: 1em; margin: 1.2em 0 .3em; }
p, li { max-width: 70em; color: #3e4c59; }
table { border-collapse: collapse; margin: .6em 0 1.2em; font-size: 13px; font-variant-numeric: tabular-nums; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 4px 9px; text-align: left; vertical-align: top;
         white-space: nowrap; }
th { background: #f0f4f8; border-bottom: 2px solid #bcccdc; position: sticky; top: 0; }
tbody tr:nth-child(even) { background: #f8fafc; } tbody tr:hover { background: #e6f0ff; }
td.num { text-align: right; white-space: nowrap; }
code { background: #f0f4f8; padding: 0 3px; border-radius: 3px; }
"""


def _mark_numeric_cells(state) -> None:
    """markdown-it core rule: class ``num`` on table cells whose text is numeric."""
    toks = state.tokens
    for i, tok in enumerate(toks[:-1]):
        if tok.type == "td_open" and toks[i + 1].type == "inline" and _NUMERIC.match(toks[i + 1].content):
            tok.attrSet("class", "num")


def markdown_to_html(md: str, title: str = "") -> str:
    """Render Markdown with pipe tables as one self-contained HTML page.

    Raw HTML in ``md`` is escaped and image syntax is left as text, so the page references no
    other file and nothing is fetched when it is opened.

    Parameters
    ----------
    md : str
        Markdown (CommonMark with GitHub-style pipe tables), e.g. ``reports/results.md``.
    title : str
        The page's ``<title>`` (default: the first heading, else empty).

    Returns
    -------
    page : str
        ``<!DOCTYPE html>`` document with an inline style sheet; numeric table cells right-aligned.
    """
    from markdown_it import MarkdownIt

    parser = MarkdownIt("commonmark", {"html": False}).enable("table").disable("image")
    parser.core.ruler.push("numeric_cells", _mark_numeric_cells)
    body = parser.render(md)
    if not title:
        first = re.search(r"^#+\s+(.+)$", md, flags=re.M)
        title = first.group(1).strip() if first else ""
    return ("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
            f"<title>{html.escape(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n{body}</body>\n</html>\n")


def render_markdown(md_file, fname, title: str = "") -> Path:
    """Write the HTML page of a Markdown file (:func:`markdown_to_html`) to ``fname`` atomically.

    Parameters
    ----------
    md_file : path-like
        Markdown report written by the pipeline (UTF-8).
    fname : path-like
        HTML file to write.
    title : str
        Page title (default: the Markdown's first heading).

    Returns
    -------
    fname : Path
    """
    md_file = Path(md_file)
    try:
        text = md_file.read_text(encoding="utf-8")
    except UnicodeDecodeError as err:
        raise DatasetFormatError(md_file, "UTF-8 Markdown", f"undecodable bytes ({err})") from None
    return atomic_write_text(fname, markdown_to_html(text, title))


def compose_readme(sections: Sequence, fname, intro: str = "") -> str:
    """Gather Markdown reports into one page (e.g. ``reports/README.md``, read on GitHub).

    Parameters
    ----------
    sections : sequence of path-like
        Markdown files, in page order; each one's headings move one level down under the page title.
    fname : path-like
        Markdown file to write (atomically).
    intro : str
        Markdown placed under the page title (what ran, where the full report is).

    Returns
    -------
    text : str
        The page written.
    """
    parts = ["# Headline results", ""]
    if intro:
        parts += [intro.strip(), ""]
    for f in sections:
        f = Path(f)
        try:
            text = f.read_text(encoding="utf-8")
        except UnicodeDecodeError as err:
            raise DatasetFormatError(f, "UTF-8 Markdown", f"undecodable bytes ({err})") from None
        parts += [f"<!-- from {f.as_posix()} -->", demote_headings(text).strip(), ""]
    text = "\n".join(parts).rstrip() + "\n"
    atomic_write_text(fname, text)
    return text
