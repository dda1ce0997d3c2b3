"""A bulk send's rows checked without queueing (``validate_only``, the console's
upload page), and notifications found by their recipient as sending normalised it."""

from __future__ import annotations

import pytest

from services.notify.domain.bulk_sends import BulkSend
from services.notify.domain.notifications import Notification
from services.notify.service_layer.bulk_sends import BulkRequest
from services.notify.service_layer.sending import SendRequest
from services.runtime.errors import InvalidArgument
from services.runtime.pagination import PageRequest
from services.runtime.rate_limit import Limit
from tests.unit.notify.conftest import AGENCY, DAILY_LIMIT, OTHER, Notify, build, call, encoded

TENANT = AGENCY.client_id
PAGE = PageRequest.parse(50, "")


def rows(n: int) -> list[tuple[str, dict[str, str], str]]:
    return [(f"p{i}@example.com", {"name": f"P{i}"}, "") for i in range(n)]


def test_checking_rows_queues_nothing_and_charges_neither_limit_nor_rate() -> None:
    notify = build(rate=Limit.per_minute(1, 1))
    template = notify.template()
    # More rows than the daily limit and the burst: a real send would be refused.
    checked = notify.bulk.send_bulk(
        AGENCY,
        BulkRequest(template.id, rows=rows(DAILY_LIMIT + 1), validate_only=True),
        call(),
        encoded,
    )
    assert isinstance(checked, BulkSend)
    assert (checked.id, checked.total) == ("", DAILY_LIMIT + 1)
    assert notify.state.notifications.rows == {}
    assert notify.state.daily_counts.counts == {}
    # The rate was not taken: a real send of one row still goes.
    sent = notify.bulk.send_bulk(AGENCY, BulkRequest(template.id, rows=rows(1)), call(), encoded)
    assert isinstance(sent, BulkSend)
    assert sent.id.startswith("bulk_")


def test_checking_rows_reports_bad_rows_as_a_send_would(notify: Notify) -> None:
    template = notify.template()
    given = [
        ("ok@example.com", {"name": "A"}, ""),
        ("nope", {"name": "B"}, ""),
        ("c@example.com", {}, ""),
    ]
    with pytest.raises(InvalidArgument, match="2 of 3 rows are invalid") as refused:
        notify.bulk.send_bulk(
            AGENCY, BulkRequest(template.id, rows=given, validate_only=True), call(), encoded
        )
    fields = sorted(v.field for v in refused.value.violations)
    assert fields[0] == "rows[2].recipient"
    assert fields[1].startswith("rows[3].personalisation")
    assert notify.state.notifications.rows == {}


def send(notify: Notify, channel: str, template_id: str, to: str) -> str:
    result = notify.sending.send(
        AGENCY, SendRequest(channel, template_id, to, {"name": "A"}), call(), encoded
    )
    assert isinstance(result, Notification)
    return result.id


def test_a_recipient_is_found_as_sending_normalised_it(notify: Notify) -> None:
    email = notify.template()
    sms = notify.template(channel="sms", subject="")
    to_ada = send(notify, "email", email.id, "ada@EXAMPLE.com")
    send(notify, "email", email.id, "bo@example.com")
    to_phone = send(notify, "sms", sms.id, "07912 345678")

    def found(recipient: str, channel: str | None = None) -> list[str]:
        page = notify.notifications.list(TENANT, PAGE, recipient=recipient, channel=channel)
        return [n.id for n in page.items]

    assert found("ada@example.com") == [to_ada]  # the domain lower-cased, as stored
    assert found("  ada@EXAMPLE.com ") == [to_ada]
    assert found("+447912345678") == [to_phone]
    assert found("07912345678", "sms") == [to_phone]  # national, in the agency's region
    assert found("cy@example.com") == []
    assert notify.notifications.list(OTHER.client_id, PAGE, recipient="ada@example.com").items == []


@pytest.mark.parametrize("recipient", ["not an address@", "12"])
def test_a_recipient_sending_would_refuse_is_invalid(notify: Notify, recipient: str) -> None:
    with pytest.raises(InvalidArgument) as refused:
        notify.notifications.list(TENANT, PAGE, recipient=recipient)
    assert refused.value.violations[0].field == "recipient"
