"""The pure rules of a payment link (services/console/domain/payment_links.py), at
every boundary."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from services.console.domain.payment_links import (
    MAX_AMOUNT,
    Characters,
    LinkForm,
    PaymentLink,
    ReferenceRule,
    State,
    check_link,
    check_payment,
    check_slug,
    new_slug,
    to_major,
    to_minor,
)
from services.runtime.errors import InvalidArgument

FORM = LinkForm(title="Passport fee", amount="75.50", reference_label="Application number")


def fields(error: pytest.ExceptionInfo[InvalidArgument]) -> list[str]:
    return [v.field for v in error.value.violations]


def refused(form: LinkForm) -> list[str]:
    with pytest.raises(InvalidArgument) as error:
        check_link(form)
    return fields(error)


def test_a_fixed_amount_link() -> None:
    link = check_link(FORM)
    assert (link.title, link.currency, link.fixed_amount) == ("Passport fee", "GBP", 7550)
    assert (link.min_amount, link.max_amount, link.return_url) == (None, None, "")
    assert link.reference == ReferenceRule(
        "Application number", True, 50, Characters.LETTERS_DIGITS
    )


def test_a_bounded_amount_link() -> None:
    link = check_link(replace(FORM, amount_type="range", min_amount="1", max_amount="1000.00"))
    assert (link.fixed_amount, link.min_amount, link.max_amount) == (None, 100, 100000)


def test_bounds_may_be_equal_but_not_reversed() -> None:
    same = replace(FORM, amount_type="range", min_amount="5", max_amount="5")
    assert check_link(same).max_amount == 500
    assert refused(replace(same, max_amount="4.99")) == ["max_amount"]


@pytest.mark.parametrize(
    ("text", "minor"),
    [("0.01", 1), ("100000", MAX_AMOUNT), ("100000.00", MAX_AMOUNT), ("1,000", 100000)],
)
def test_amounts_at_the_bounds(text: str, minor: int) -> None:
    assert check_link(replace(FORM, amount=text)).fixed_amount == minor


@pytest.mark.parametrize("text", ["", "0", "0.00", "100000.01", "-1", "1e3", "1.005", "abc", "1."])
def test_amounts_refused(text: str) -> None:
    assert refused(replace(FORM, amount=text)) == ["amount"]


def test_title_label_and_description_limits() -> None:
    assert check_link(replace(FORM, title="  a \t b ")).title == "a b"
    assert check_link(replace(FORM, title="t" * 100)).title == "t" * 100
    assert refused(replace(FORM, title="t" * 101)) == ["title"]
    assert refused(replace(FORM, title=" ")) == ["title"]
    assert check_link(replace(FORM, reference_label="l" * 60)).reference.label == "l" * 60
    assert refused(replace(FORM, reference_label="l" * 61)) == ["reference_label"]
    assert refused(replace(FORM, reference_label="")) == ["reference_label"]
    assert check_link(replace(FORM, description="d" * 1000)).description == "d" * 1000
    assert refused(replace(FORM, description="d" * 1001)) == ["description"]
    assert check_link(replace(FORM, description="one\r\ntwo ")).description == "one\ntwo"
    assert refused(replace(FORM, description="bell\x07")) == ["description"]


@pytest.mark.parametrize(
    ("text", "ok"), [("1", True), ("255", True), ("0", False), ("256", False), ("x", False)]
)
def test_reference_max_length(text: str, ok: bool) -> None:
    form = replace(FORM, reference_max_length=text)
    if ok:
        assert check_link(form).reference.max_length == int(text)
    else:
        assert refused(form) == ["reference_max_length"]


def test_other_choices_refused_and_every_error_named() -> None:
    form = replace(
        FORM,
        title="",
        currency="XXX",
        amount_type="other",
        reference_characters="emoji",
        return_url="javascript:alert(1)",
    )
    assert refused(form) == [
        "title",
        "currency",
        "amount_type",
        "reference_characters",
        "return_url",
    ]


@pytest.mark.parametrize(
    ("url", "ok"),
    [
        ("https://agency.example/done", True),
        ("http://localhost:8000/done", True),
        ("http://agency.example/done", False),
        ("https://", False),
        ("https://a.example/" + "x" * 2000, False),
    ],
)
def test_return_url(url: str, ok: bool) -> None:
    if ok:
        assert check_link(replace(FORM, return_url=url)).return_url == url
    else:
        assert refused(replace(FORM, return_url=url)) == ["return_url"]


def test_money_text() -> None:
    assert to_minor("12.5", "GBP") == 1250
    assert to_minor("12.505", "GBP") is None
    assert to_minor("12", "XXX") is None
    assert to_major(1250, "GBP") == "12.50"
    assert to_major(1, "EUR") == "0.01"


def test_slugs_are_random_and_url_safe() -> None:
    slugs = {new_slug() for _ in range(100)}
    assert len(slugs) == 100
    assert all(check_slug(s) for s in slugs)
    assert not check_slug("short")
    assert not check_slug("abc.def/ghi+")


LINK = PaymentLink(
    id="pl_1",
    team_id="team_1",
    slug="abcdefghijkl",
    title="Fee",
    description="",
    currency="GBP",
    fixed_amount=None,
    min_amount=500,
    max_amount=2000,
    reference=ReferenceRule("Application number", True, 8, Characters.LETTERS_DIGITS),
    return_url="",
    state=State.ACTIVE,
    created_by="a@example.com",
    created_at=datetime(2026, 1, 1, tzinfo=UTC),
)


def paying(link: PaymentLink, amount: str, reference: str) -> list[str]:
    with pytest.raises(InvalidArgument) as error:
        check_payment(link, amount, reference)
    return fields(error)


@pytest.mark.parametrize(("amount", "minor"), [("5", 500), ("5.00", 500), ("20", 2000)])
def test_a_citizen_amount_within_the_bounds(amount: str, minor: int) -> None:
    assert check_payment(LINK, amount, "AB-12") == (minor, "AB-12")


@pytest.mark.parametrize("amount", ["4.99", "20.01", "", "five", "5.001"])
def test_a_citizen_amount_outside_refused(amount: str) -> None:
    assert paying(LINK, amount, "AB12") == ["amount"]


def test_a_fixed_link_ignores_what_was_typed_as_amount() -> None:
    fixed = replace(LINK, fixed_amount=750, min_amount=None, max_amount=None)
    assert check_payment(fixed, "999999", "AB12") == (750, "AB12")


@pytest.mark.parametrize("reference", ["", "ABCDEFGH1", "AB 12", "AB--12", "-AB", "AB12/"])
def test_references_refused(reference: str) -> None:
    assert paying(LINK, "10", reference) == ["reference"]


def test_reference_rules() -> None:
    assert check_payment(LINK, "10", " ABCD/EF1 ")[1] == "ABCD/EF1"
    optional = replace(LINK, reference=replace(LINK.reference, required=False))
    assert check_payment(optional, "10", "") == (1000, "")
    digits = replace(LINK, reference=replace(LINK.reference, characters=Characters.DIGITS))
    assert check_payment(digits, "10", "12345678")[1] == "12345678"
    assert paying(digits, "10", "1234567a") == ["reference"]
    text = replace(LINK, reference=replace(LINK.reference, characters=Characters.TEXT))
    assert check_payment(text, "10", "A b/é#1")[1] == "A b/é#1"
    assert paying(text, "10", "a\x00b") == ["reference"]


def test_both_errors_at_once() -> None:
    assert paying(LINK, "1", "") == ["amount", "reference"]


def test_pausing() -> None:
    assert LINK.active
    assert not LINK.in_state(State.PAUSED).active
