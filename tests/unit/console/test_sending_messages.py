"""Sending one message and reading one notification, on fakes."""

from __future__ import annotations

import pytest
from gaap.notify.v1 import notify_pb2 as npb

from services.console.service_layer.message_templates import Wording
from services.runtime.errors import InvalidArgument, NotFound, PermissionDenied
from tests.unit.console.notify_support import NotifyTeam, notify_team
from tests.unit.console.support import staff


def template(team: NotifyTeam, channel: str = "email") -> str:
    wording = Wording("en", "Permit ((ref))" if channel == "email" else "", "Hi ((name))")
    made = team.templates.create(
        staff("dev"),
        team.team_id,
        channel=channel,
        name="T",
        wordings=[wording],
        request_id=channel,
    )
    team.console.work.audit.entries.clear()
    return made.id


def send(
    team: NotifyTeam, template_id: str, recipient: str, who: str = "sam", **values: str
) -> npb.Notification:
    return team.sending.send(
        staff(who),
        team.team_id,
        template_id=template_id,
        recipient=recipient,
        values=values,
        reference="case-7",
        request_id="form-1",
    )


def test_a_sender_sends_an_email_as_the_teams_agency_and_it_is_recorded_without_the_recipient() -> (
    None
):
    team = notify_team()
    tpl = template(team, "email")
    sent = send(team, tpl, "citizen@example.com", ref="P-1", name="Ada")
    assert (sent.recipient, sent.subject, sent.reference) == (
        "citizen@example.com",
        "Permit P-1",
        "case-7",
    )
    assert team.calls.connected[-1] == (team.agency_id, ("notify:send", "notify:read"))
    assert team.audit() == [
        ("sam@agency.example", "send_message", {"notification_id": sent.id, "template_id": tpl})
    ]
    assert "citizen@example.com" not in repr(team.audit())


def test_an_sms_template_sends_a_text_message() -> None:
    team = notify_team()
    tpl = template(team, "sms")
    sent = send(team, tpl, "+44 7700 900123", name="Ada")
    assert sent.channel == npb.CHANNEL_SMS
    assert "SendSms" in team.notify.calls
    assert "SendEmail" not in team.notify.calls


def test_sending_the_form_twice_sends_once() -> None:
    team = notify_team()
    tpl = template(team)
    assert (
        send(team, tpl, "a@example.com", ref="1", name="A").id
        == send(team, tpl, "a@example.com", ref="1", name="A").id
    )
    assert len(team.notify.notifications) == 1


@pytest.mark.parametrize(
    ("recipient", "values", "field"),
    [
        ("not-an-address", {"ref": "1", "name": "A"}, "recipient"),
        ("a@example.com", {"name": "A"}, "p_ref"),
    ],
)
def test_notifys_refusals_are_errors_on_the_send_forms_fields(
    recipient: str, values: dict[str, str], field: str
) -> None:
    team = notify_team()
    tpl = template(team)
    with pytest.raises(InvalidArgument) as refused:
        send(team, tpl, recipient, **values)
    assert [v.field for v in refused.value.violations] == [field]
    assert team.notify.notifications == {}
    assert team.audit() == []


def test_no_template_chosen_is_a_form_error_before_notify_is_called() -> None:
    team = notify_team()
    with pytest.raises(InvalidArgument) as refused:
        send(team, "", "a@example.com")
    assert [v.field for v in refused.value.violations] == ["template"]
    assert team.calls.connected == []


@pytest.mark.parametrize("who", ["dev", "vic"])
def test_developers_and_viewers_may_not_send(who: str) -> None:
    team = notify_team()
    tpl = template(team)
    with pytest.raises(PermissionDenied):
        send(team, tpl, "a@example.com", who=who, ref="1", name="A")
    assert team.notify.notifications == {}


def test_every_member_reads_a_notification_and_an_unknown_one_is_not_found() -> None:
    team = notify_team()
    sent = send(team, template(team), "a@example.com", ref="1", name="A")
    found, events = team.sending.notification(staff("vic"), team.team_id, sent.id)
    assert found.id == sent.id
    assert [e.status for e in events] == [npb.STATUS_CREATED]
    assert team.calls.connected[-1] == (team.agency_id, ("notify:read",))
    with pytest.raises(NotFound):
        team.sending.notification(staff("vic"), team.team_id, "ntf_missing")
    with pytest.raises(NotFound):
        team.sending.notification(staff("eve"), team.team_id, sent.id)


def test_every_member_sees_todays_usage_against_the_limits_with_notify_read() -> None:
    team = notify_team()
    send(team, template(team), "a@example.com", ref="1", name="A")
    usage = team.sending.usage(staff("vic"), team.team_id)
    assert (usage.email_sent, usage.email_daily_limit, usage.sms_sent) == (1, 1000, 0)
    assert team.calls.connected[-1] == (team.agency_id, ("notify:read",))
    with pytest.raises(NotFound):
        team.sending.usage(staff("eve"), team.team_id)
