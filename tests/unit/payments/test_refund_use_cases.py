"""CreateRefund, GetRefund and ListRefunds on the fakes: the amount reserved
under the payment's lock, each provider outcome, and replays."""

from __future__ import annotations

import pytest

from services.payments.domain.providers import ProviderError, ProviderMismatch, ProviderRefused
from services.payments.domain.refunds import RefundState
from services.runtime.errors import FailedPrecondition, InvalidArgument, NotFound
from services.runtime.pagination import PageRequest
from tests.unit.payments.conftest import AGENCY, OTHER, World, caller, key


def test_a_refund_the_provider_settles_is_booked(w: World) -> None:
    payment = w.paid(amount=1000)
    refund = w.payments.create_refund(caller(), payment.id, 400, None, key("r"))
    assert (refund.state, refund.amount, refund.provider_ref) == (
        RefundState.SUCCESS,
        400,
        f"re_{refund.id}",
    )
    assert w.provider.calls[-1] == ("refund", f"gaap-{refund.id}-refund")
    assert w.stored(payment.id).refundable_amount == 600
    refunds = [r for r in w.state.ledger.rows if r.kind == "refund"]
    assert len(refunds) == 2
    assert w.state.ledger.balanced()
    assert w.state.events.types(payment.id)[-2:] == ["refund.submitted", "refund.succeeded"]


def test_a_replayed_refund_is_the_first_one(w: World) -> None:
    payment = w.paid(amount=1000)
    first = w.payments.create_refund(caller(), payment.id, 400, None, key("r"))
    again = w.payments.create_refund(caller(), payment.id, 400, None, key("r"))
    assert again == first
    assert w.provider.operations().count("refund") == 1
    assert w.stored(payment.id).refundable_amount == 600


def test_more_than_is_left_is_refused_and_nothing_changes(w: World) -> None:
    payment = w.paid(amount=1000)
    w.payments.create_refund(caller(), payment.id, 700, None, key("r1"))
    before = w.stored(payment.id)
    with pytest.raises(FailedPrecondition, match="exceeds"):
        w.payments.create_refund(caller(), payment.id, 301, None, key("r2"))
    assert w.stored(payment.id) == before
    assert len(w.state.refunds.rows) == 1
    assert (AGENCY, "r2") not in w.state.idempotency.rows


def test_a_stale_expected_available_amount_is_refused(w: World) -> None:
    payment = w.paid(amount=1000)
    with pytest.raises(FailedPrecondition, match="expected_available_amount"):
        w.payments.create_refund(caller(), payment.id, 100, 999, key("r"))
    assert w.state.refunds.rows == {}


def test_refunds_need_a_positive_amount_and_a_successful_payment(w: World) -> None:
    with pytest.raises(InvalidArgument):
        w.payments.create_refund(caller(), w.paid().id, 0, None, key("r1"))
    with pytest.raises(FailedPrecondition, match="only successful"):
        w.payments.create_refund(caller(), w.create().id, 100, None, key("r2"))
    with pytest.raises(NotFound):
        w.payments.create_refund(caller(OTHER), w.paid().id, 100, None, key("r3", OTHER))


def test_a_refund_while_the_provider_is_down_stays_reserved_and_is_sent_again(w: World) -> None:
    payment = w.paid(amount=1000)
    w.provider.fail["refund"] = ProviderError("down")
    refund = w.payments.create_refund(caller(), payment.id, 400, None, key("r"))
    assert (refund.state, refund.provider_ref) == (RefundState.SUBMITTED, "")
    assert w.stored(payment.id).refundable_amount == 600  # still reserved
    del w.provider.fail["refund"]
    again = w.payments.create_refund(caller(), payment.id, 400, None, key("r"))
    assert (again.id, again.state) == (refund.id, RefundState.SUCCESS)


def test_a_refund_the_provider_refuses_fails_and_frees_its_amount(w: World) -> None:
    payment = w.paid(amount=1000)
    w.provider.fail["refund"] = ProviderRefused("no")
    refund = w.payments.create_refund(caller(), payment.id, 400, None, key("r"))
    assert refund.state is RefundState.FAILED
    assert w.stored(payment.id).refundable_amount == 1000
    assert [r for r in w.state.ledger.rows if r.kind == "refund"] == []
    assert w.state.events.types(payment.id)[-1] == "refund.failed"


def test_a_refund_the_provider_reports_wrongly_stays_reserved(w: World) -> None:
    payment = w.paid(amount=1000)
    w.provider.fail["refund"] = ProviderMismatch(("amount",))
    refund = w.payments.create_refund(caller(), payment.id, 400, None, key("r"))
    assert refund.state is RefundState.SUBMITTED
    assert w.stored(payment.id).refundable_amount == 600


def test_a_refund_pending_at_the_provider_keeps_its_reference(w: World) -> None:
    payment = w.paid(amount=1000)
    w.provider.refund_settles = False
    refund = w.payments.create_refund(caller(), payment.id, 400, None, key("r"))
    assert (refund.state, refund.provider_ref) == (RefundState.SUBMITTED, f"re_{refund.id}")
    assert w.state.refunds.rows[refund.id] == refund


def test_get_and_list_refunds_are_the_agency_own(w: World) -> None:
    payment = w.paid(amount=1000)
    made = [
        w.payments.create_refund(caller(), payment.id, 100, None, key(f"r{i}")) for i in range(3)
    ]
    assert w.payments.get_refund(AGENCY, made[0].id) == made[0]
    with pytest.raises(NotFound):
        w.payments.get_refund(OTHER, made[0].id)
    first = w.payments.list_refunds(AGENCY, payment.id, PageRequest(2, None))
    assert [r.id for r in first.items] == sorted(r.id for r in made)[:2]
    assert first.next_page_token
    rest = w.payments.list_refunds(AGENCY, payment.id, PageRequest(2, first.items[-1].id))
    assert [r.id for r in rest.items] == sorted(r.id for r in made)[2:]
    with pytest.raises(NotFound):
        w.payments.list_refunds(OTHER, payment.id, PageRequest(2, None))
