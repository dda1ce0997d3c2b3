"""The shared page toolkit: language choice, CSRF tokens, catalogues, the layout."""

from __future__ import annotations

from pathlib import Path

import pytest

from services.runtime.pages import CsrfTokens, FieldError, Pages, choose_language
from services.runtime.pages.i18n import parse_accept_language

SUPPORTED = ("en", "zh-Hans")


@pytest.mark.parametrize(
    ("kwargs", "chosen"),
    [
        ({}, "en"),
        ({"accept_language": "zh-CN,zh;q=0.9,en;q=0.8"}, "zh-Hans"),
        ({"accept_language": "zh-TW,en;q=0.5"}, "en"),
        ({"accept_language": "fr, zh;q=0.3"}, "zh-Hans"),
        ({"hint": "zh-Hans", "accept_language": "en"}, "zh-Hans"),
        ({"cookie": "en", "hint": "zh-Hans"}, "en"),
        ({"explicit": "zh-hans", "cookie": "en"}, "zh-Hans"),
        ({"explicit": "klingon", "cookie": "zh-Hans"}, "zh-Hans"),
        ({"accept_language": "zh;q=0, en"}, "en"),
    ],
)
def test_language_choice_order(kwargs: dict[str, str], chosen: str) -> None:
    assert choose_language(SUPPORTED, **kwargs) == chosen


def test_accept_language_is_ordered_by_quality() -> None:
    assert parse_accept_language("a;q=0.1, b, c;q=0.5, d;q=0") == ["b", "c", "a"]


def test_csrf_tokens_bind_session_and_purpose() -> None:
    tokens = CsrfTokens("a" * 32)
    token = tokens.issue("session-1", "card:pay_1")
    assert tokens.check("session-1", "card:pay_1", token)
    assert not tokens.check("session-2", "card:pay_1", token)
    assert not tokens.check("session-1", "confirm:pay_1", token)
    assert not tokens.check("session-1", "card:pay_1", token[:-1] + "x")
    assert not tokens.check("", "card:pay_1", token)
    assert not CsrfTokens("b" * 32).check("session-1", "card:pay_1", token)
    with pytest.raises(ValueError, match="16 bytes"):
        CsrfTokens("short")


@pytest.fixture
def pages(tmp_path: Path) -> Pages:
    (tmp_path / "form.html").write_text(
        '{% extends "pages/base.html" %}'
        '{% from "pages/forms.html" import error_summary, text_input %}'
        "{% block title %}{{ _('Title') }}{% endblock %}"
        "{% block content %}{{ error_summary(errors) }}"
        '{{ text_input("name", _("Name"), errors, value=value, autocomplete="name") }}'
        "{% endblock %}"
    )
    po = tmp_path / "locales" / "zh_Hans" / "LC_MESSAGES"
    po.mkdir(parents=True)
    (po / "messages.po").write_text(
        'msgid ""\nmsgstr ""\n"Content-Type: text/plain; charset=UTF-8\\n"\n\n'
        'msgid "Name"\nmsgstr "姓名"\n',
        encoding="utf-8",
    )
    return Pages(tmp_path, tmp_path / "locales")


def test_layout_ties_labels_and_links_errors_to_fields(pages: Pages) -> None:
    errors = [FieldError("name", "Enter your name")]
    html = bytes(pages.render("form.html", "en", errors=errors, value="<b>x</b>").body).decode()
    assert '<label for="name">Name</label>' in html
    assert '<a href="#name">Enter your name</a>' in html
    assert 'aria-describedby="name-error"' in html
    assert 'aria-invalid="true"' in html
    assert "<title>Error: Title</title>" in html
    assert "&lt;b&gt;x&lt;/b&gt;" in html
    assert "<b>x</b>" not in html
    assert "<script" not in html
    assert '<html lang="en">' in html


def test_catalogues_merge_the_service_over_the_toolkit(pages: Pages) -> None:
    rendered = pages.render("form.html", "zh-Hans", errors=[FieldError("name", "x")], value="")
    html = bytes(rendered.body).decode()
    assert '<label for="name">姓名</label>' in html
    assert "出现问题" in html  # the toolkit's own "There is a problem"
    assert '<html lang="zh-Hans">' in html
    clean = bytes(pages.render("form.html", "en", errors=[], value="").body).decode()
    assert "There is a problem" not in clean
