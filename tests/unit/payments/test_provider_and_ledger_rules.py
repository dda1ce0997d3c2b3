"""What payments takes from a provider (nothing on trust), the idempotency key of
each provider call, and the ledger's balanced entries."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from services.payments.domain import ledger
from services.payments.domain.providers import (
    ProviderMismatch,
    ProviderRefused,
    mismatched,
    operation_key,
)


@pytest.mark.parametrize(
    ("reported_amount", "reported_currency", "fields"),
    [
        (1000, "GBP", ()),
        (1000, "gbp", ()),
        (999, "GBP", ("amount",)),
        (1001, "GBP", ("amount",)),
        ("1000", "GBP", ("amount",)),
        (1000.0, "GBP", ("amount",)),
        (True, "GBP", ("amount",)),
        (None, "GBP", ("amount",)),
        (1000, "EUR", ("currency",)),
        (1000, None, ("currency",)),
        (1000, 826, ("currency",)),
        (1000, "", ("currency",)),
        (5, "USD", ("amount", "currency")),
        (None, None, ("amount", "currency")),
    ],
)
def test_every_field_the_provider_reports_differently_is_named(
    reported_amount: object, reported_currency: object, fields: tuple[str, ...]
) -> None:
    assert mismatched(1000, "GBP", reported_amount, reported_currency) == fields


def test_currencies_compare_without_case_on_both_sides() -> None:
    assert mismatched(1, "gbp", 1, "GBP") == ()
    assert mismatched(1, "Gbp", 1, "gBP") == ()


def test_a_mismatch_names_its_fields_in_its_message() -> None:
    both = ProviderMismatch(("amount", "currency"))
    assert isinstance(both, ProviderRefused)
    assert str(both) == "the provider reported another amount and currency"
    assert both.fields == ("amount", "currency")
    assert str(ProviderMismatch(("amount",))) == "the provider reported another amount"


def test_an_operation_key_names_the_payment_and_the_operation() -> None:
    assert operation_key("pay_1", "capture") == "gaap-pay_1-capture"
    assert operation_key("pay_1", "capture") != operation_key("pay_1", "cancel")
    assert operation_key("pay_1", "capture") != operation_key("pay_2", "capture")


def test_accounts_are_named_by_kind() -> None:
    assert ledger.provider_account("stripe") == "provider:stripe"
    assert ledger.agency_account("agency-a") == "agency:agency-a"


def test_a_capture_debits_the_provider_and_credits_the_agency() -> None:
    assert ledger.capture_entry(tenant="a", provider="stripe", amount=250, currency="EUR") == [
        ledger.Line("provider:stripe", 250, "EUR"),
        ledger.Line("agency:a", -250, "EUR"),
    ]


def test_a_refund_reverses_a_capture() -> None:
    assert ledger.refund_entry(tenant="a", provider="stripe", amount=250, currency="EUR") == [
        ledger.Line("agency:a", 250, "EUR"),
        ledger.Line("provider:stripe", -250, "EUR"),
    ]


@pytest.mark.parametrize("entry", [ledger.capture_entry, ledger.refund_entry])
def test_an_entry_that_moves_nothing_is_refused(entry: Callable[..., list[ledger.Line]]) -> None:
    with pytest.raises(ValueError, match=r"^a ledger entry must balance and move money$"):
        entry(tenant="a", provider="s", amount=0, currency="GBP")


def test_an_unbalanced_entry_is_refused() -> None:
    lines = [ledger.Line("provider:s", 100, "GBP"), ledger.Line("agency:a", -99, "GBP")]
    with pytest.raises(ValueError, match=r"^a ledger entry must balance and move money$"):
        ledger._balanced(lines)
    zero = [ledger.Line("provider:s", 100, "GBP"), ledger.Line("agency:a", -100, "GBP")]
    zero.append(ledger.Line("agency:b", 0, "GBP"))
    with pytest.raises(ValueError, match=r"^a ledger entry must balance and move money$"):
        ledger._balanced(zero)
