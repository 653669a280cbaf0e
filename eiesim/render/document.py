"""A tiny document model (sections of paragraphs, tables, figures) rendered to HTML or Markdown.

Both report kinds (one run, one sweep) are built as a ``Document`` once and then
written in either format, so the two formats always carry the same content. The
HTML is self-contained: inline CSS, figures as base64 ``data:`` URIs, no scripts,
no external fonts. The Markdown embeds the same data URIs so that one file is
still the whole report.
"""

from __future__ import annotations

import html
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Union

from eiesim.render import numbers
from eiesim.render.plots import data_uri


@dataclass
class Para:
    """A paragraph; inline ``code`` and [text](url) links are understood in both formats."""

    text: str
    css_class: str = ""


@dataclass
class Table:
    """Headers carry their units, e.g. ``time (us)``; ``numeric`` columns are right-aligned."""

    headers: list[str]
    rows: list[list[str]]
    numeric: list[bool] | None = None
    caption: str = ""
    marked_rows: set[int] = field(default_factory=set)
    footer: list[str] | None = None


@dataclass
class Figure:
    png: bytes
    alt: str
    caption: str = ""


@dataclass
class Code:
    text: str
    summary: str = ""  # non-empty: collapsible in HTML


@dataclass
class Section:
    title: str
    anchor: str
    blocks: list[Block] = field(default_factory=list)


Block = Union[Para, Table, Figure, Code]


@dataclass
class Document:
    title: str
    subtitle: str = ""
    summary: list[tuple[str, str]] = field(default_factory=list)  # headline key figures
    sections: list[Section] = field(default_factory=list)


# -- number formatting (shared by both reports): the one rule of eiesim.render.numbers ----

MISSING = numbers.MISSING


def fmt_int(value: Any) -> str:
    """A count: whole number with thousands separators (``numbers.format_count``)."""
    return numbers.format_count(value)


def fmt_num(value: Any) -> str:
    """Any number by the one table rule (``numbers.format_number``)."""
    return numbers.format_number(value)


def fmt_pct(value: Any) -> str:
    """A fraction in [0, 1] shown as a percentage (``numbers.format_percent``)."""
    return numbers.format_percent(value)


def relative_path(path: Any, base_dir: str | Path | None) -> str:
    """An absolute path as seen from ``base_dir`` (the report's folder); other text unchanged.

    A report must not show the host's directory layout (and stays right when the folder moves with its
    sweep); without ``base_dir``, or when the path shares nothing but the root with it, an absolute path is
    cut to its file name (the page's SHA-256 beside it still identifies the file).
    """
    text = str(path)
    if not os.path.isabs(text):
        return text
    if base_dir is None:
        return os.path.basename(text) or text
    base = os.path.abspath(base_dir)
    try:
        if os.path.commonpath([text, base]) == os.path.abspath(os.sep):
            return os.path.basename(text) or text  # nothing in common but the root: a relative path would show it all
        return os.path.relpath(text, base)
    except ValueError:  # another drive (Windows)
        return os.path.basename(text) or text


# -- inline markup --------------------------------------------------------------------

_INLINE = re.compile(r"`([^`]+)`|\[([^\]]+)\]\(([^)\s]+)\)")


_CODE_ONLY = re.compile(r"`([^`]+)`")


def _inline_html(text: str) -> str:
    """Escaped text with ``code`` spans and [text](url) links (paragraphs and captions, written by eiesim)."""
    return _markup_html(text, _INLINE)


def _cell_html(text: str) -> str:
    """Escaped text with ``code`` spans only: table cells may hold names from the user's files, never links."""
    return _markup_html(text, _CODE_ONLY)


def _markup_html(text: str, pattern: re.Pattern[str]) -> str:
    out, pos = [], 0
    for m in pattern.finditer(text):
        out.append(html.escape(text[pos:m.start()]))
        if m.group(1) is not None:
            out.append(f"<code>{html.escape(m.group(1))}</code>")
        else:
            out.append(f'<a href="{html.escape(m.group(3), quote=True)}">{html.escape(m.group(2))}</a>')
        pos = m.end()
    out.append(html.escape(text[pos:]))
    return "".join(out)


def _md_cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- HTML -------------------------------------------------------------------------------

CSS = """
:root { --ink: #1d2330; --muted: #5b6473; --line: #d9dee7; --band: #f5f7fa; --accent: #0b5cad; --mark: #fff4d6; }
* { box-sizing: border-box; }
body { margin: 0; color: var(--ink); background: #fff;
  font: 15px/1.55 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; }
main { max-width: 1200px; margin: 0 auto; padding: 28px 32px 64px; }
header h1 { font-size: 1.7rem; margin: 0 0 4px; letter-spacing: -0.01em; }
header p.subtitle { margin: 0 0 18px; color: var(--muted); }
h2 { font-size: 1.25rem; margin: 40px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
p { margin: 8px 0 12px; max-width: 78ch; }
a { color: var(--accent); }
code { font: 0.88em/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, monospace; background: var(--band);
  padding: 1px 4px; border-radius: 3px; }
nav.toc { font-size: 0.92rem; margin: 0 0 8px; }
nav.toc a { margin-right: 14px; white-space: nowrap; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(170px, 1fr)); gap: 10px; margin: 14px 0 8px; }
.card { border: 1px solid var(--line); border-radius: 8px; padding: 10px 12px; background: var(--band); }
.card .k { color: var(--muted); font-size: 0.8rem; }
.card .v { font-size: 1.15rem; font-weight: 600; font-variant-numeric: tabular-nums; }
.scroll { overflow-x: auto; max-width: 100%; min-width: 0; margin: 10px 0 16px; border: 1px solid var(--line);
  border-radius: 6px; }
table { border-collapse: collapse; width: 100%; font-size: 0.84rem; font-variant-numeric: tabular-nums; }
p.caption { color: var(--muted); font-size: 0.86rem; margin: 14px 0 4px; max-width: 100ch; }
th, td { padding: 5px 7px; border-bottom: 1px solid var(--line); white-space: nowrap; }
th { background: var(--band); text-align: left; font-weight: 600; white-space: normal; vertical-align: bottom;
  line-height: 1.25; }
.scroll.narrow { display: inline-block; min-width: 50%; max-width: 100%; }
.scroll.narrow table { width: auto; min-width: 100%; }
.scroll.narrow td { white-space: normal; }
.scroll.narrow td:not(.n) { overflow-wrap: anywhere; }
.scroll.narrow td:first-child { min-width: 15em; }
td.n, th.n { text-align: right; }
tbody tr:nth-child(even) td { background: #fafbfc; }
tbody tr.mark td { background: var(--mark); }
tfoot td { font-weight: 600; border-top: 2px solid var(--line); }
figure { margin: 14px 0 22px; }
figure img { max-width: 100%; height: auto; border: 1px solid var(--line); border-radius: 6px; }
figcaption { color: var(--muted); font-size: 0.86rem; margin-top: 4px; max-width: 78ch; }
details { margin: 8px 0 16px; }
summary { cursor: pointer; color: var(--accent); }
pre { background: var(--band); padding: 10px 12px; border-radius: 6px; overflow-x: auto; font-size: 0.8rem; }
p.pass { color: #136c2e; font-weight: 600; } p.fail { color: #b00020; font-weight: 600; }
p.note { color: var(--muted); font-size: 0.9rem; }
footer { margin-top: 48px; color: var(--muted); font-size: 0.82rem; }
"""


def render_html(doc: Document) -> str:
    """The whole document as one self-contained HTML page."""
    parts = ["<!DOCTYPE html>", '<html lang="en">', "<head>", '<meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>{html.escape(doc.title)}</title>", f"<style>{CSS}</style>", "</head>", "<body><main>",
             "<header>", f"<h1>{html.escape(doc.title)}</h1>"]
    if doc.subtitle:
        parts.append(f'<p class="subtitle">{_inline_html(doc.subtitle)}</p>')
    if doc.sections:
        links = " ".join(f'<a href="#{s.anchor}">{html.escape(s.title)}</a>' for s in doc.sections)
        parts.append(f'<nav class="toc">{links}</nav>')
    if doc.summary:
        parts.append('<div class="cards">')
        for key, value in doc.summary:
            parts.append(f'<div class="card"><div class="k">{html.escape(key)}</div>'
                         f'<div class="v">{_cell_html(value)}</div></div>')
        parts.append("</div>")
    parts.append("</header>")
    for section in doc.sections:
        parts.append(f'<section id="{html.escape(section.anchor, quote=True)}">')
        parts.append(f"<h2>{html.escape(section.title)}</h2>")
        parts.extend(_block_html(b) for b in section.blocks)
        parts.append("</section>")
    parts.append("<footer>Generated by eiesim. Figures are embedded PNGs; this file needs no other files.</footer>")
    parts.append("</main></body></html>")
    return "\n".join(parts) + "\n"


def _block_html(block: Block) -> str:
    if isinstance(block, Para):
        cls = f' class="{block.css_class}"' if block.css_class else ""
        return f"<p{cls}>{_inline_html(block.text)}</p>"
    if isinstance(block, Figure):
        cap = f"<figcaption>{_inline_html(block.caption)}</figcaption>" if block.caption else ""
        return f'<figure><img src="{data_uri(block.png)}" alt="{html.escape(block.alt, quote=True)}">{cap}</figure>'
    if isinstance(block, Code):
        pre = f"<pre>{html.escape(block.text)}</pre>"
        return f"<details><summary>{html.escape(block.summary)}</summary>{pre}</details>" if block.summary else pre
    return _table_html(block)


def _table_html(t: Table) -> str:
    numeric = t.numeric or [False] * len(t.headers)
    cls = ['n' if n else '' for n in numeric]
    narrow = " narrow" if len(t.headers) <= 3 else ""
    out = [f'<p class="caption">{_inline_html(t.caption)}</p>'] if t.caption else []
    out.append(f'<div class="scroll{narrow}"><table>')
    out.append("<thead><tr>" + "".join(f'<th class="{c}">{_cell_html(h)}</th>' for h, c in zip(t.headers, cls))
               + "</tr></thead><tbody>")
    for i, row in enumerate(t.rows):
        mark = ' class="mark"' if i in t.marked_rows else ""
        out.append(f"<tr{mark}>" + "".join(f'<td class="{c}">{_cell_html(v)}</td>' for v, c in zip(row, cls))
                   + "</tr>")
    out.append("</tbody>")
    if t.footer:
        out.append("<tfoot><tr>" + "".join(f'<td class="{c}">{_cell_html(v)}</td>' for v, c in zip(t.footer, cls))
                   + "</tr></tfoot>")
    out.append("</table></div>")
    return "".join(out)


# -- Markdown ---------------------------------------------------------------------------

def render_md(doc: Document) -> str:
    """The same document as GitHub-flavoured Markdown with embedded images."""
    out = [f"# {doc.title}", ""]
    if doc.subtitle:
        out += [doc.subtitle, ""]
    if doc.summary:
        out += ["| quantity | value |", "|---|---:|"]
        out += [f"| {_md_cell(k)} | {_md_cell(v)} |" for k, v in doc.summary]
        out.append("")
    for section in doc.sections:
        out += [f"## {section.title}", ""]
        for block in section.blocks:
            out += _block_md(block) + [""]
    out.append("_Generated by eiesim. Figures are embedded PNGs (data URIs)._")
    return "\n".join(out) + "\n"


def _block_md(block: Block) -> list[str]:
    if isinstance(block, Para):
        return [block.text]
    if isinstance(block, Figure):
        lines = [f"![{block.alt}]({data_uri(block.png)})"]
        if block.caption:
            lines += ["", f"*{block.caption}*"]
        return lines
    if isinstance(block, Code):
        lines = [f"**{block.summary}**", ""] if block.summary else []
        return lines + ["```", block.text, "```"]
    t = block
    numeric = t.numeric or [False] * len(t.headers)
    lines = [f"*{t.caption}*", ""] if t.caption else []
    lines.append("| " + " | ".join(_md_cell(h) for h in t.headers) + " |")
    lines.append("|" + "|".join("---:" if n else "---" for n in numeric) + "|")
    for row in t.rows:
        lines.append("| " + " | ".join(_md_cell(v) for v in row) + " |")
    if t.footer:
        lines.append("| " + " | ".join(f"**{_md_cell(v)}**" if v else "" for v in t.footer) + " |")
    return lines


def render(doc: Document, fmt: str) -> str:
    """``fmt`` is "html" or "md"."""
    if fmt == "html":
        return render_html(doc)
    if fmt == "md":
        return render_md(doc)
    from eiesim.errors import UsageError

    raise UsageError(f"unknown report format {fmt!r}; valid formats: html, md")
