"""Sending to a list on fakes: an upload's bad rows as notify names them (in the
sender's line numbers and columns), the rest kept server-side and sent once,
the upload's personal data forgotten once sent or expired, roles refused."""

from __future__ import annotations

import pytest
from gaap.notify.v1 import notify_pb2 as npb

from services.console.service_layer.acting_for import ActingFor
from services.console.service_layer.bulk_sending import BulkSending
from services.console.service_layer.message_templates import Wording
from services.runtime.errors import InvalidArgument, NotFound, PermissionDenied
from tests.fakes.console_acting import FakeAgencyCalls
from tests.fakes.console_bulk import FakeBulkNotifyAgency, FakeBulkNotifyApi
from tests.fakes.console_notify import FakeNotifyAgency
from tests.unit.console.notify_support import NotifyTeam, notify_team
from tests.unit.console.support import staff


@pytest.fixture
def team() -> NotifyTeam:
    found = notify_team()
    found.calls.clients[found.agency_id] = FakeNotifyAgency(FakeBulkNotifyApi())
    return found


def bulk(team: NotifyTeam) -> BulkSending:
    # the same fake notify the team's template pages use, as the bulk pages see it
    calls = FakeAgencyCalls({team.agency_id: FakeBulkNotifyAgency(fake(team))})
    return BulkSending(
        team.console.uow, ActingFor(team.console.uow, calls).connect, team.console.clock
    )


def fake(team: NotifyTeam) -> FakeBulkNotifyApi:
    api = team.notify
    assert isinstance(api, FakeBulkNotifyApi)
    return api


def template(team: NotifyTeam) -> str:
    made = team.templates.create(
        staff("dev"),
        team.team_id,
        channel="email",
        name="Permit",
        wordings=[Wording("en", "Permit ((ref))", "Hi ((first name))")],
        request_id="t",
    )
    team.console.work.audit.entries.clear()
    return made.id


def upload(team: NotifyTeam, csv: str, who: str = "sam") -> str:
    return (
        bulk(team)
        .upload(
            staff(who),
            team.team_id,
            template_id=template(team),
            file_name="list.csv",
            data=csv.encode(),
        )
        .id
    )


CSV = (
    "Email address,First Name,ref\n"
    "a@example.com,Ada,1\n"
    "not-an-address,Bo,2\n"
    "c@example.com,,3\n"
    "d@example.com,Di,4\n"
)


def test_bad_rows_are_listed_by_line_and_column_and_the_rest_kept(team: NotifyTeam) -> None:
    upload_id = upload(team, CSV)
    kept = team.console.work.bulk_uploads.rows[upload_id]
    assert [(r.line, r.recipient) for r in kept.rows] == [
        (2, "a@example.com"),
        (5, "d@example.com"),
    ]
    assert [(p.line, p.column) for p in kept.problems] == [
        (3, "email address"),
        (4, "first name"),
    ]
    view = bulk(team).view(staff("sam"), team.team_id, upload_id)
    assert [p.body for p in view.previews] == ["Hi Ada", "Hi Di"]
    assert fake(team).calls.count("CreateBulkSend.check") == 2  # bad rows set aside, then OK
    assert "CreateBulkSend" not in fake(team).calls  # nothing queued yet
    assert team.audit() == [
        (
            "sam@agency.example",
            "upload_recipients",
            {"upload_id": upload_id, "template_id": kept.template_id, "rows": "2", "bad_rows": "2"},
        )
    ]


def test_more_bad_rows_than_notify_lists_at_once_are_all_found(team: NotifyTeam) -> None:
    rows = "".join(
        f"bad{i},X,{i}\n" if i % 3 == 0 else f"p{i}@example.com,X,{i}\n" for i in range(450)
    )
    upload_id = upload(team, "email address,first name,ref\n" + rows)
    kept = team.console.work.bulk_uploads.rows[upload_id]
    assert len(kept.problems) == 150
    assert len(kept.rows) == 300


def test_sending_twice_makes_one_bulk_send_and_forgets_the_rows(team: NotifyTeam) -> None:
    upload_id = upload(team, CSV)
    first = bulk(team).send(staff("sam"), team.team_id, upload_id)
    again = bulk(team).send(staff("sam"), team.team_id, upload_id)
    assert first == again
    assert fake(team).calls.count("CreateBulkSend") == 1
    assert [r.recipient for r in fake(team).sent_rows[first]] == ["a@example.com", "d@example.com"]
    kept = team.console.work.bulk_uploads.rows[upload_id]
    assert (kept.rows, kept.problems, kept.bulk_send_id) == ((), (), first)
    progress = bulk(team).progress(staff("vic"), team.team_id, first)
    assert (progress.total, progress.pending) == (2, 2)
    cancelled = bulk(team).cancel(staff("sam"), team.team_id, first)
    assert (cancelled.cancelled, cancelled.pending) == (2, 0)
    assert [a for _, a, _ in team.audit()][-2:] == ["send_bulk", "cancel_bulk"]


def test_an_upload_expires_after_24_hours_and_is_purged(team: NotifyTeam) -> None:
    upload_id = upload(team, CSV)
    team.console.clock.advance(hours=24, seconds=1)
    with pytest.raises(NotFound):
        bulk(team).send(staff("sam"), team.team_id, upload_id)
    assert team.console.work.bulk_uploads.rows == {}


def test_only_the_uploader_sends_their_upload(team: NotifyTeam) -> None:
    upload_id = upload(team, CSV)
    with pytest.raises(NotFound):
        bulk(team).send(staff("ada"), team.team_id, upload_id)


def test_a_viewer_may_neither_upload_nor_send_nor_cancel(team: NotifyTeam) -> None:
    with pytest.raises(PermissionDenied):
        upload(team, CSV, who="vic")
    upload_id = upload(team, CSV)
    sent = bulk(team).send(staff("sam"), team.team_id, upload_id)
    with pytest.raises(PermissionDenied):
        bulk(team).send(staff("vic"), team.team_id, upload_id)
    with pytest.raises(PermissionDenied):
        bulk(team).cancel(staff("vic"), team.team_id, sent)


@pytest.mark.parametrize(
    ("csv", "message"),
    [
        (
            "email address,ref\na@example.com,1\n",
            "The file needs a column for each of: “first name”",
        ),
        ("phone number,first name,ref\n1,A,2\n", "“email address”"),
        ("email address,first name,First_Name,ref\na@example.com,A,B,1\n", "more than once"),
        ("", "The file is empty"),
    ],
)
def test_a_file_that_does_not_fit_the_template_is_refused_whole(
    team: NotifyTeam, csv: str, message: str
) -> None:
    with pytest.raises(InvalidArgument) as refused:
        upload(team, csv)
    assert refused.value.violations[0].field == "file"
    assert message in refused.value.violations[0].description
    assert team.console.work.bulk_uploads.rows == {}


def test_a_template_is_required(team: NotifyTeam) -> None:
    with pytest.raises(InvalidArgument):
        bulk(team).upload(staff("sam"), team.team_id, template_id="", file_name="x", data=b"x")


def test_an_sms_template_wants_a_phone_number_column(team: NotifyTeam) -> None:
    sms = fake(team).CreateTemplate(
        npb.CreateTemplateRequest(
            channel=npb.CHANNEL_SMS,
            name="Code",
            contents=[npb.TemplateContent(language="en", body="Code ((code))")],
            idempotency_key="sms",
        )
    )
    made = bulk(team).upload(
        staff("sam"),
        team.team_id,
        template_id=sms.id,
        file_name="x.csv",
        data=b"Phone Number,code\n07912345678,1\n",
    )
    assert [r.recipient for r in made.rows] == ["07912345678"]
