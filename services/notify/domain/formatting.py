"""Email formatting: a small syntax rendered to plain text and accessible HTML.

Syntax (one block per paragraph, blocks separated by a blank line)::

    # Heading            ## Smaller heading
    * item  (or "- item") a bullet list, one line per item
    ---                  a horizontal rule
    [text](https://...)  a link; a bare https:// URL is linked too

Personalisation values are never read as formatting: the template is formatted
with each value replaced by a marker, and the markers are swapped for the
HTML-escaped values afterwards.
"""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

from services.notify.domain import placeholders
from services.notify.domain.placeholders import Value

_LINK = re.compile(r"\[([^\[\]]+)\]\((https?://[^\s()]+)\)")
_BARE_URL = re.compile(r"(?<![\"=>])\bhttps?://[^\s<>\"]+[^\s<>\".,;:!?)]")
_MARKER = re.compile("\ue000(\\d+)\ue001")
_BULLET = re.compile(r"^\s*[*\-•]\s+")
_HEADING = re.compile(r"^(#{1,2})\s+(.*)$")


def plain_text(body: str, values: Mapping[str, Value], language: str) -> str:
    """The text/plain part (and what API responses show as the body)."""
    text = placeholders.substitute(body, values, language)
    return _LINK.sub(lambda m: f"{m.group(1)}: {m.group(2)}", text).strip()


def html_body(body: str, values: Mapping[str, Value], language: str) -> str:
    """The formatted body's HTML (a fragment: see ``html_document`` for the layout)."""
    found: list[str] = []

    def mark(value: str) -> str:
        found.append(value)
        return f"\ue000{len(found) - 1}\ue001"

    marked = placeholders.substitute(body, values, language, value_to=mark)
    rendered = _blocks(marked)
    return _MARKER.sub(
        lambda m: html.escape(found[int(m.group(1))]).replace("\n", "<br>"), rendered
    )


def _blocks(text: str) -> str:
    out: list[str] = []
    for block in re.split(r"\n\s*\n", text.replace("\r\n", "\n").strip()):
        lines = [line for line in block.split("\n") if line.strip()]
        paragraph: list[str] = []
        items: list[str] = []

        for line in lines:
            heading = _HEADING.match(line.strip())
            if heading:
                _flush(out, paragraph, items)
                level = len(heading.group(1))
                style = _H1 if level == 1 else _H2
                out.append(f'<h{level} style="{style}">{_inline(heading.group(2))}</h{level}>')
            elif line.strip() == "---":
                _flush(out, paragraph, items)
                out.append(f'<hr style="{_HR}">')
            elif _BULLET.match(line):
                if paragraph:
                    _flush(out, paragraph, items)
                items.append(_inline(_BULLET.sub("", line)))
            else:
                if items:
                    _flush(out, paragraph, items)
                paragraph.append(_inline(line.strip()))
        _flush(out, paragraph, items)
    return "\n".join(out)


def _flush(out: list[str], paragraph: list[str], items: list[str]) -> None:
    if paragraph:
        out.append(f'<p style="{_P}">' + "<br>".join(paragraph) + "</p>")
        paragraph.clear()
    if items:
        lis = "".join(f'<li style="{_LI}">{i}</li>' for i in items)
        out.append(f'<ul style="{_UL}">{lis}</ul>')
        items.clear()


def _inline(text: str) -> str:
    escaped = html.escape(text, quote=False)
    links: list[str] = []

    def href(url_in_escaped_text: str) -> str:
        # The URL was matched in text already escaped once: escaping it again would turn
        # "&" into "&amp;amp;" and send the citizen to a different address.
        return html.escape(html.unescape(url_in_escaped_text))

    def keep(anchor: str) -> str:
        links.append(anchor)
        return f"\ue002{len(links) - 1}\ue003"

    escaped = _LINK.sub(
        lambda m: keep(f'<a href="{href(m.group(2))}" style="{_A}">{m.group(1)}</a>'),
        escaped,
    )
    escaped = _BARE_URL.sub(
        lambda m: keep(f'<a href="{href(m.group(0))}" style="{_A}">{m.group(0)}</a>'),
        escaped,
    )
    return re.sub("\ue002(\\d+)\ue003", lambda m: links[int(m.group(1))], escaped)


_FONT = "font-family: Helvetica, Arial, sans-serif; color: #0b0c0c"
_P = f"{_FONT}; font-size: 19px; line-height: 1.4; margin: 0 0 20px 0"
_H1 = f"{_FONT}; font-size: 32px; line-height: 1.2; font-weight: 700; margin: 0 0 20px 0"
_H2 = f"{_FONT}; font-size: 24px; line-height: 1.25; font-weight: 700; margin: 0 0 15px 0"
_UL = "margin: 0 0 20px 0; padding: 0 0 0 20px"
_LI = f"{_FONT}; font-size: 19px; line-height: 1.4; margin: 0 0 5px 0"
_A = "color: #1d70b8; text-decoration: underline"
_HR = "border: 0; border-top: 1px solid #b1b4b6; margin: 30px 0"


def html_document(subject: str, fragment: str, language: str) -> str:
    """The whole text/html part: one readable column, real headings, a language."""
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{html.escape(language)}"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html.escape(subject)}</title></head>"
        '<body style="margin: 0; padding: 0; background: #ffffff">'
        '<div role="article" aria-roledescription="email" '
        f'aria-label="{html.escape(subject)}" '
        'style="max-width: 580px; margin: 0 auto; padding: 20px 15px">'
        f"{fragment}</div></body></html>"
    )
