"""Templates: every rule a new template or version is checked against (with the exact
words), personalisation limits at their edges, and rendering per channel and language."""

from __future__ import annotations

import string
from datetime import UTC, datetime
from itertools import product

import pytest

from services.notify.domain import formatting
from services.notify.domain.templates import (
    Content,
    Rendered,
    Template,
    check_values,
    render,
    validate,
)
from services.runtime.errors import FieldViolation, InvalidArgument

NOW = datetime(2025, 6, 1, tzinfo=UTC)
EMAIL = Content("en", "Subject", "Body")
SMS = Content("en", "", "Body")
TAGS = ["".join(p) for p in product(string.ascii_lowercase, repeat=2)]


def problems(channel: str, *contents: Content, name: str = "Reminder") -> list[tuple[str, str]]:
    return [(v.field, v.description) for v in validate(channel, name, contents)]


def test_a_good_template_has_no_problems() -> None:
    assert problems("email", EMAIL, Content("zh-Hans-CN", "((a)) s", "((b??yes)) b")) == []
    assert problems("sms", SMS, Content("cy", "", "((name))")) == []


def test_the_channel_is_email_or_sms() -> None:
    assert problems("fax", SMS) == [("channel", "must be CHANNEL_EMAIL or CHANNEL_SMS")]


@pytest.mark.parametrize(("name", "fine"), [("", False), ("   ", False), ("n" * 200, True)])
def test_a_name_is_required_and_at_most_200_characters(name: str, fine: bool) -> None:
    expected = [] if fine else [("name", "required, at most 200 characters")]
    assert problems("sms", SMS, name=name) == expected
    assert problems("sms", SMS, name=name + "n" * 201) == [
        ("name", "required, at most 200 characters")
    ]


def test_one_to_twenty_languages() -> None:
    assert problems("sms") == [("contents", "1 to 20 languages")]
    twenty = [Content(tag, "", "Body") for tag in TAGS[:20]]
    assert problems("sms", *twenty) == []
    assert problems("sms", *twenty, Content(TAGS[20], "", "Body")) == [
        ("contents", "1 to 20 languages")
    ]


def test_each_language_is_a_tag_given_once() -> None:
    assert problems(
        "sms", SMS, Content("english", "", "B"), Content("EN", "", "B"), Content("cy", "", "B")
    ) == [
        ("contents[1].language", "a BCP 47 tag such as en or zh-Hans"),
        ("contents[2].language", "appears twice"),
    ]


@pytest.mark.parametrize(("channel", "limit"), [("email", 100_000), ("sms", 5_000)])
def test_a_body_is_required_and_limited_per_channel(channel: str, limit: int) -> None:
    subject = "S" if channel == "email" else ""
    why = f"required, at most {limit} characters"
    assert problems(channel, Content("en", subject, "b" * limit)) == []
    assert problems(channel, Content("en", subject, "b" * (limit + 1))) == [
        ("contents[0].body", why)
    ]
    assert problems(channel, Content("en", subject, " \n ")) == [("contents[0].body", why)]


def test_an_email_subject_is_required_and_at_most_500_characters() -> None:
    why = "required, at most 500 characters"
    assert problems("email", Content("en", "s" * 500, "B")) == []
    assert problems("email", Content("en", "s" * 501, "B")) == [("contents[0].subject", why)]
    assert problems("email", EMAIL, Content("cy", "  ", "B")) == [("contents[1].subject", why)]


def test_an_sms_has_no_subject() -> None:
    assert problems("sms", Content("en", "Hi", "B")) == [
        ("contents[0].subject", "SMS templates have no subject")
    ]


def test_every_double_bracket_must_start_a_placeholder() -> None:
    why = "a '((' does not start a valid placeholder"
    assert problems("email", Content("en", "Hi ((name", "((a)) and ((b) or ((c))")) == [
        ("contents[0].subject", why),
        ("contents[0].body", why),
    ]


def test_personalisation_is_at_most_200_values() -> None:
    assert len(check_values({f"k{i}": "v" for i in range(200)})) == 200
    with pytest.raises(InvalidArgument) as caught:
        check_values({f"k{i}": "v" for i in range(201)})
    assert str(caught.value) == "invalid request: check personalisation"
    assert caught.value.violations == (FieldViolation("personalisation", "at most 200 values"),)


@pytest.mark.parametrize(
    "value", ["v" * 10_000, ["v" * 5_000, "w" * 5_000], ["x"] * 10_000, ("a", "b")]
)
def test_a_value_of_up_to_10_000_characters_is_kept(value: str | list[str]) -> None:
    assert check_values({"First Name": value}) == {"firstname": value}


@pytest.mark.parametrize("value", ["v" * 10_001, ["v" * 5_000, "w" * 5_001]])
def test_a_longer_value_is_refused_by_name(value: str | list[str]) -> None:
    with pytest.raises(InvalidArgument) as caught:
        check_values({"ok": "fine", "Big One": value}, "rows[2].personalisation")
    assert caught.value.violations == (
        FieldViolation("rows[2].personalisation.Big One", "at most 10000 characters"),
    )


def template(channel: str, *contents: Content) -> Template:
    return Template("tpl_1", "agency-a", 2, channel, "T", contents, NOW, NOW)  # type: ignore[arg-type]


def test_every_missing_value_is_named_under_the_field() -> None:
    t = template("email", Content("en", "((a)) ((b))", "((c??x)) ((a)) ((d))"))
    with pytest.raises(InvalidArgument) as caught:
        render(t, {"b": "B"}, field="rows[7].personalisation")
    assert str(caught.value) == "missing personalisation: a, c, d"
    assert caught.value.violations == tuple(
        FieldViolation(f"rows[7].personalisation.{n}", "missing: the template uses it")
        for n in "acd"
    )
    with pytest.raises(InvalidArgument) as caught:
        render(t, {})
    assert [v.field for v in caught.value.violations] == [
        "personalisation.a",
        "personalisation.b",
        "personalisation.c",
        "personalisation.d",
    ]


def test_an_sms_renders_in_the_asked_language_with_its_length() -> None:
    t = template("sms", Content("en", "", "Hi ((days))"), Content("zh-Hans", "", "  ((days))  "))
    values = {"days": ["一", "二", "三"]}
    assert render(t, values, "zh-Hans-CN") == Rendered("zh-Hans", "", "一、二和三", "", 1, "UCS-2")
    assert render(t, values) == Rendered("en", "", "Hi 一, 二 and 三", "", 1, "UCS-2")
    assert render(t, {"days": "Mon"}, "fr") == Rendered("en", "", "Hi Mon", "", 1, "GSM-7")


def test_an_sms_over_918_characters_is_refused() -> None:
    t = template("sms", Content("en", "", "((text))"))
    assert render(t, {"text": "a" * 918}).fragments == 6
    with pytest.raises(InvalidArgument) as caught:
        render(t, {"text": "a" * 919}, field="rows[1].personalisation")
    assert caught.value.violations == (
        FieldViolation("rows[1].personalisation", "the message is 919 characters; at most 918"),
    )


def test_an_email_renders_in_the_asked_language_with_html_only_when_asked() -> None:
    t = template(
        "email",
        Content("en", "Hello ((name))", "Dear ((name))"),
        Content("cy", "Helo\n((name))  ((days))", "# Annwyl ((name))\n\n((days))"),
    )
    values = {"name": "Ada\nLovelace", "days": ["Llun", "Mawrth"]}
    plain = render(t, values, "cy")
    assert plain == Rendered(
        "cy", "Helo Ada Lovelace Llun a(c) Mawrth", "# Annwyl Ada\nLovelace\n\nLlun a(c) Mawrth"
    )
    with_html = render(t, values, "cy-GB", with_html=True)
    fragment = formatting.html_body("# Annwyl ((name))\n\n((days))", values, "cy")
    assert "Llun a(c) Mawrth" in fragment
    assert with_html == Rendered(
        "cy",
        plain.subject,
        plain.body,
        formatting.html_document(plain.subject, fragment, "cy"),
    )
    assert render(t, {"name": "Ada"}) == Rendered("en", "Hello Ada", "Dear Ada")
