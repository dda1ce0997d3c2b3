"""The team's notify status callback, on fakes: developers and administrators
only, the secret shown once and never recorded, tests and redeliveries."""

from __future__ import annotations

import pytest

from services.console.service_layer.message_templates import Wording
from services.runtime.errors import FailedPrecondition, InvalidArgument, PermissionDenied
from tests.unit.console.notify_support import notify_team
from tests.unit.console.support import staff

URL = "https://hooks.agency.example/notify?token=abc"


def test_a_developer_sets_the_callback_and_the_audit_trail_keeps_only_its_host() -> None:
    team = notify_team()
    assert team.callbacks.current(staff("dev"), team.team_id) is None
    registered = team.callbacks.set(staff("dev"), team.team_id, URL, "r1")
    assert registered.signing_secret.startswith("whsec_")
    shown = team.callbacks.current(staff("dev"), team.team_id)
    assert shown is not None
    assert (shown.url, shown.signing_secret) == (URL, "")
    assert team.audit() == [
        ("dev@agency.example", "set_status_callback", {"host": "hooks.agency.example"})
    ]
    assert "whsec_" not in repr(team.audit())
    assert "token=abc" not in repr(team.audit())


def test_an_http_url_is_a_form_error() -> None:
    team = notify_team()
    with pytest.raises(InvalidArgument) as refused:
        team.callbacks.set(staff("dev"), team.team_id, "http://hooks.example/", "r1")
    assert [v.field for v in refused.value.violations] == ["url"]
    assert team.audit() == []


@pytest.mark.parametrize("who", ["sam", "vic"])
def test_senders_and_viewers_may_not_see_or_change_the_callback(who: str) -> None:
    team = notify_team()
    with pytest.raises(PermissionDenied):
        team.callbacks.current(staff(who), team.team_id)
    with pytest.raises(PermissionDenied):
        team.callbacks.set(staff(who), team.team_id, URL, "r1")
    with pytest.raises(PermissionDenied):
        team.callbacks.delete(staff(who), team.team_id, "r2")
    assert team.notify.calls == []


def test_a_test_callback_needs_a_registered_url() -> None:
    team = notify_team()
    with pytest.raises(FailedPrecondition):
        team.callbacks.send_test(staff("dev"), team.team_id, "t1")
    team.callbacks.set(staff("dev"), team.team_id, URL, "r1")
    delivery = team.callbacks.send_test(staff("dev"), team.team_id, "t2")
    assert delivery.event_type == "callback.test"
    assert team.audit()[-1] == (
        "dev@agency.example",
        "test_status_callback",
        {"delivery_id": delivery.id},
    )


def test_redelivering_a_notifications_callback_and_an_unknown_id_as_a_form_error() -> None:
    team = notify_team()
    team.callbacks.set(staff("ada"), team.team_id, URL, "r1")
    template = team.templates.create(
        staff("ada"),
        team.team_id,
        channel="email",
        name="T",
        wordings=[Wording("en", "S", "B")],
        request_id="t",
    )
    sent = team.sending.send(
        staff("ada"),
        team.team_id,
        template_id=template.id,
        recipient="a@example.com",
        values={},
        reference="",
        request_id="s",
    )
    delivery = team.callbacks.redeliver(staff("ada"), team.team_id, f" {sent.id} ", "d1")
    assert delivery.event_type == "notification.status"
    assert team.audit()[-1][1:] == (
        "redeliver_status_callback",
        {"notification_id": sent.id, "delivery_id": delivery.id},
    )
    with pytest.raises(InvalidArgument) as refused:
        team.callbacks.redeliver(staff("ada"), team.team_id, "ntf_missing", "d2")
    assert [v.field for v in refused.value.violations] == ["notification_id"]


def test_deleting_the_callback_is_recorded() -> None:
    team = notify_team()
    team.callbacks.set(staff("dev"), team.team_id, URL, "r1")
    team.callbacks.delete(staff("dev"), team.team_id, "r2")
    assert team.callbacks.current(staff("dev"), team.team_id) is None
    assert team.audit()[-1] == ("dev@agency.example", "delete_status_callback", {})
