"""Email formatting: the exact plain text and HTML each piece of the syntax becomes."""

from __future__ import annotations

import pytest

from services.notify.domain import formatting

FONT = "font-family: Helvetica, Arial, sans-serif; color: #0b0c0c"
P = f'<p style="{FONT}; font-size: 19px; line-height: 1.4; margin: 0 0 20px 0">'
H1 = f'<h1 style="{FONT}; font-size: 32px; line-height: 1.2; font-weight: 700; margin: 0 0 20px 0">'
H2 = (
    f'<h2 style="{FONT}; font-size: 24px; line-height: 1.25; font-weight: 700; margin: 0 0 15px 0">'
)
UL = '<ul style="margin: 0 0 20px 0; padding: 0 0 0 20px">'
LI = f'<li style="{FONT}; font-size: 19px; line-height: 1.4; margin: 0 0 5px 0">'
A = 'style="color: #1d70b8; text-decoration: underline"'
HR = '<hr style="border: 0; border-top: 1px solid #b1b4b6; margin: 30px 0">'


def html(body: str, **values: str | list[str]) -> str:
    return formatting.html_body(body, values, "en")


def test_plain_text_spells_links_out_and_lists_in_the_language() -> None:
    body = "  Pay at [the payment page](https://pay.gov.example/p?x=1) by ((days))  \n"
    assert (
        formatting.plain_text(body, {"days": ["mon", "tue", "wed"]}, "zh-Hans")
        == "Pay at the payment page: https://pay.gov.example/p?x=1 by mon、tue和wed"
    )


def test_html_values_are_escaped_keep_their_line_breaks_and_lists_follow_the_language() -> None:
    out = formatting.html_body(
        "((address))\n\n((names))",
        {"address": "1 <b>High</b> St\nTown", "names": ["a", "b", "c"]},
        "zh-Hans",
    )
    assert out == f"{P}1 &lt;b&gt;High&lt;/b&gt; St<br>Town</p>\n{P}a、b和c</p>"


@pytest.mark.parametrize(
    "separator",
    ["\n\n", "\n  \n", "\r\n\r\n", "\n\t\n\n", "\r\n \r\n"],
    ids=["lf", "spaces", "crlf", "tab", "crlf-space"],
)
def test_a_blank_line_separates_paragraphs(separator: str) -> None:
    assert html(f"First{separator}Second") == f"{P}First</p>\n{P}Second</p>"


@pytest.mark.parametrize("newline", ["\n", "\r\n"], ids=["lf", "crlf"])
def test_lines_of_one_paragraph_are_joined_by_line_breaks(newline: str) -> None:
    assert html(f"one{newline}two{newline}  three  ") == f"{P}one<br>two<br>three</p>"


def test_an_empty_body_renders_nothing() -> None:
    assert html(" \n\n \r\n ") == ""


def test_headings_of_both_levels() -> None:
    assert html("# Big news\n## Details\n\n#NoSpace") == (
        f"{H1}Big news</h1>\n{H2}Details</h2>\n{P}#NoSpace</p>"
    )


def test_a_heading_a_rule_and_a_list_each_close_what_came_before() -> None:
    body = "Intro\n# Title\n* one\n## Sub\nText\n---\n- two\n---\n* three\n- four\nAfter"
    assert html(body) == "\n".join(
        [
            f"{P}Intro</p>",
            f"{H1}Title</h1>",
            f"{UL}{LI}one</li></ul>",
            f"{H2}Sub</h2>",
            f"{P}Text</p>",
            HR,
            f"{UL}{LI}two</li></ul>",
            HR,
            f"{UL}{LI}three</li>{LI}four</li></ul>",
            f"{P}After</p>",
        ]
    )


def test_a_paragraph_then_bullets_then_a_paragraph_in_one_block() -> None:
    assert html("Before\nstill before\n  • a\n* b\nAfter") == "\n".join(
        [f"{P}Before<br>still before</p>", f"{UL}{LI}a</li>{LI}b</li></ul>", f"{P}After</p>"]
    )


def test_windows_line_ends_leave_no_carriage_return_in_a_list() -> None:
    assert html("* one\r\n- two\r\n\r\nAfter\r\n") == (
        f"{UL}{LI}one</li>{LI}two</li></ul>\n{P}After</p>"
    )


def test_bullets_keep_their_text_after_the_marker() -> None:
    assert html("*   spaced * star - dash") == f"{UL}{LI}spaced * star - dash</li></ul>"


def test_a_rule_alone() -> None:
    assert html("  ---  ") == HR


def test_links_keep_their_text_and_escape_their_address() -> None:
    assert html('[Pay "now"](https://pay.gov.example/p?r="x") today') == (
        f'{P}<a href="https://pay.gov.example/p?r=&quot;x&quot;" {A}>Pay "now"</a> today</p>'
    )


def test_an_ampersand_in_an_address_is_escaped_once() -> None:
    # Escaped twice, the citizen's click would lose every parameter after the first.
    assert html(
        "[Pay](https://pay.gov.example/p?a=1&b=2) or https://pay.gov.example/q?a=1&b=2"
    ) == (
        f'{P}<a href="https://pay.gov.example/p?a=1&amp;b=2" {A}>Pay</a> or '
        f'<a href="https://pay.gov.example/q?a=1&amp;b=2" {A}>'
        "https://pay.gov.example/q?a=1&amp;b=2</a></p>"
    )


def test_bare_addresses_are_linked_without_trailing_punctuation() -> None:
    assert html("See https://a.gov.example/x?y=1. Or (https://b.gov.example).") == (
        f'{P}See <a href="https://a.gov.example/x?y=1" {A}>'
        "https://a.gov.example/x?y=1</a>. "
        f'Or (<a href="https://b.gov.example" {A}>https://b.gov.example</a>).</p>'
    )


def test_text_is_escaped_but_quotes_stay_quotes() -> None:
    assert html('Tom\'s "quote" & <tag> "https://c.gov.example/q"') == (
        f'{P}Tom\'s "quote" &amp; &lt;tag&gt; "https://c.gov.example/q"</p>'
    )


def test_the_document_wraps_the_fragment_in_one_labelled_column() -> None:
    assert formatting.html_document('Your "claim" <ref>', "<p>x</p>", "cy") == (
        "<!DOCTYPE html>\n"
        '<html lang="cy"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>Your &quot;claim&quot; &lt;ref&gt;</title></head>"
        '<body style="margin: 0; padding: 0; background: #ffffff">'
        '<div role="article" aria-roledescription="email" '
        'aria-label="Your &quot;claim&quot; &lt;ref&gt;" '
        'style="max-width: 580px; margin: 0 auto; padding: 20px 15px">'
        "<p>x</p></div></body></html>"
    )
