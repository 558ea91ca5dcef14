"""The index page of ``python -m keras_fer.visualize``: every PNG (``Figure``) and table
(``Table``) with its title and caption.

Example:
    >>> write_index("vis", "runs/baseline", [Figure("saliency.png", "Saliency", "what it shows")])
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from pathlib import Path

from keras_fer.io_utils import write_text

INDEX = "index.html"


@dataclass
class Figure:
    """One written PNG: file name (relative to the output folder), title and caption."""

    file: str
    title: str
    caption: str
    section: str = ""


@dataclass
class Table:
    """A table on the page: column headers, rows of cells (str), and the file it comes from."""

    title: str
    caption: str
    columns: list
    rows: list
    section: str = ""
    file: str = ""


def _render(item):
    esc = html.escape
    if isinstance(item, Table):
        head = "".join(f"<th>{esc(c)}</th>" for c in item.columns)
        body = "".join("<tr>" + "".join(f"<td>{esc(str(c))}</td>" for c in row) + "</tr>"
                       for row in item.rows)
        link = f" (<a href='{esc(item.file)}'>{esc(item.file)}</a>)" if item.file else ""
        return (f"<figure><table><tr>{head}</tr>{body}</table><figcaption><b>{esc(item.title)}"
                f"</b>{link}. {esc(item.caption)}</figcaption></figure>")
    return (f"<figure><img src='{esc(item.file)}' alt='{esc(item.title)}'>"
            f"<figcaption><b>{esc(item.title)}</b>. {esc(item.caption)}</figcaption></figure>")


def render_index(model_name, figures, notes=()):
    """The HTML text of the page: sections in order of first appearance, a figure per PNG or
    table."""
    esc = html.escape
    parts = ["<!doctype html>", "<html><head><meta charset='utf-8'>",
             f"<title>keras_fer visualize: {esc(model_name)}</title>",
             "<style>body{font-family:sans-serif;max-width:1200px;margin:auto}"
             "figure{margin:1.5em 0}img{max-width:100%;border:1px solid #ccc}"
             "figcaption{color:#333;font-size:0.9em}table{border-collapse:collapse}"
             "td,th{border:1px solid #ccc;padding:2px 8px;text-align:right}"
             "td:first-child,th:first-child{text-align:left}"
             ".note{color:#a40}</style></head><body>",
             f"<h1>Explaining {esc(model_name)}</h1>"]
    parts += [f"<p class='note'>{esc(n)}</p>" for n in notes]
    sections = list(dict.fromkeys(f.section for f in figures))
    for section in sections:
        if section:
            parts.append(f"<h2>{esc(section)}</h2>")
        for f in (f for f in figures if f.section == section):
            parts.append(_render(f))
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def write_index(out_dir, model_name, figures, notes=()):
    """Write ``out_dir/index.html`` (atomically); returns its path."""
    path = Path(out_dir) / INDEX
    write_text(path, render_index(model_name, figures, notes))
    return path
