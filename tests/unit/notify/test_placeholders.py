"""Placeholders, conditional text, lists, templates' languages and rendering."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notify.domain import placeholders
from services.notify.domain.templates import Content, Template, check_values, render, validate
from services.runtime.errors import InvalidArgument

NOW = datetime(2025, 6, 1, tzinfo=UTC)


def template(channel: str = "email", *contents: Content) -> Template:
    return Template("tpl_1", "a", 1, channel, "T", contents, NOW, NOW)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "written", ["((First Name))", "((first_name))", "((FIRST-NAME))", "(( first name ))"]
)
def test_names_match_ignoring_case_spaces_underscores_and_hyphens(written: str) -> None:
    assert placeholders.substitute(f"Hi {written}", {"firstname": "Ada"}, "en") == "Hi Ada"


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("yes", True),
        ("YES", True),
        ("true", True),
        ("1", True),
        ("no", False),
        ("", False),
        ("maybe", False),
    ],
)
def test_conditional_text_shows_only_for_a_yes(value: str, shown: bool) -> None:
    out = placeholders.substitute("A((paid??, paid))B", {"paid": value}, "en")
    assert out == ("A, paidB" if shown else "AB")


@pytest.mark.parametrize(
    ("items", "language", "expected"),
    [
        (["a"], "en", "a"),
        (["a", "b"], "en", "a and b"),
        (["a", "b", "c"], "en", "a, b and c"),
        (["a", "b", "c"], "zh-Hans", "a、b和c"),
        ([], "en", ""),
        (["a", " ", "b"], "en", "a and b"),
    ],
)
def test_lists_render_in_the_language(items: list[str], language: str, expected: str) -> None:
    assert placeholders.join_list(items, language) == expected


def test_every_missing_placeholder_is_named() -> None:
    t = template("email", Content("en", "((a)) subject", "((b)) and ((c??text)) and ((a))"))
    with pytest.raises(InvalidArgument) as caught:
        render(t, {"a": "x"})
    assert [v.field for v in caught.value.violations] == ["personalisation.b", "personalisation.c"]


def test_a_value_cannot_break_the_subject_line_or_inject_html() -> None:
    t = template(
        "email", Content("en", "Re: ((x))", "# Title\n\n((x))\n\n* [link](https://a.example)")
    )
    out = render(t, check_values({"x": "evil\r\nBcc: a@b.c <script>"}), with_html=True)
    assert "\n" not in out.subject
    assert "\r" not in out.subject
    assert "<script>" not in out.html
    assert "&lt;script&gt;" in out.html
    assert "<h1 style=" in out.html
    assert '<a href="https://a.example"' in out.html


def test_values_are_never_read_as_formatting() -> None:
    t = template("email", Content("en", "S", "((x))"))
    out = render(t, {"x": "# not a heading [x](https://evil.example)"}, with_html=True)
    assert "<h1" not in out.html
    assert 'evil.example"' not in out.html


def test_language_falls_back_by_tag_then_to_the_default() -> None:
    t = template("sms", Content("en", "", "Hello"), Content("zh-Hans", "", "你好"))
    assert t.content_for("zh-Hans-CN").body == "你好"
    assert t.content_for("ZH-hans").body == "你好"
    assert t.content_for("zh").body == "Hello"
    assert t.content_for("").body == "Hello"


def test_template_rules() -> None:
    problems = validate(
        "sms",
        "",
        [
            Content("en", "subject", "x"),
            Content("EN", "", "y"),
            Content("not a tag!", "", "((broken"),
        ],
    )
    fields = {p.field for p in problems}
    assert {
        "name",
        "contents[0].subject",
        "contents[1].language",
        "contents[2].language",
        "contents[2].body",
    } <= fields
    assert validate("email", "ok", [Content("en", "s", "b")]) == []
    assert {p.field for p in validate("email", "ok", [Content("en", "", "b")])} == {
        "contents[0].subject"
    }


def test_oversized_personalisation_is_refused() -> None:
    with pytest.raises(InvalidArgument):
        check_values({"x": "y" * 10_001})
    assert check_values({"First Name": "y" * 10_000}) == {"firstname": "y" * 10_000}


def test_each_wording_is_parsed_for_itself_when_a_template_gets_a_new_version() -> None:
    v1 = template("email", Content("en", "Hi ((name))", "Old ((name))"))
    v2 = Template(
        "tpl_1",
        "a",
        2,
        "email",
        "T",
        (Content("en", "Hi ((name))", "New ((first name))((paid??, paid))"),),
        NOW,
        NOW,
    )
    assert render(v1, {"name": "Ada"}).body == "Old Ada"
    with pytest.raises(InvalidArgument) as missing:
        render(v2, {"name": "Ada"})  # the new wording's own placeholders
    assert {v.field for v in missing.value.violations} == {
        "personalisation.firstname",
        "personalisation.paid",
    }
    assert render(v2, {"name": "A", "firstname": "Ada", "paid": "yes"}).body == "New Ada, paid"
    assert render(v1, {"name": "Bo"}).body == "Old Bo"


def test_parsing_keeps_the_text_between_placeholders_exactly() -> None:
    text = "((a))-((b??x))((c)) tail (( not one )"
    parsed = placeholders.parse(text)
    assert [literal for literal, _ in parsed.parts] == ["", "-", ""]
    assert parsed.tail == " tail (( not one )"
    assert parsed.names == ("a", "b", "c")
    assert placeholders.substitute(text, {"a": "1", "b": "yes", "c": "3"}, "en") == (
        "1-x3 tail (( not one )"
    )
