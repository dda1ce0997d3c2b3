"""A team's templates at notify, on fakes: who may read and edit them, what
reaches notify, notify's refusals as form errors, and the audit trail."""

from __future__ import annotations

import pytest
from gaap.notify.v1 import notify_pb2 as npb

from services.console.service_layer.message_templates import Wording
from services.runtime.errors import InvalidArgument, NotFound, PermissionDenied
from tests.unit.console.notify_support import NotifyTeam, notify_team
from tests.unit.console.support import staff

EN = Wording("en", "Your permit ((ref))", "Hello ((name)), permit ((ref)) is ready.")
ZH = Wording("zh-Hans", "您的许可证 ((ref))", "((name))您好，许可证 ((ref)) 已就绪。")
BLANK = Wording("", "", "")


def created(team: NotifyTeam, who: str = "dev") -> npb.Template:
    return team.templates.create(
        staff(who), team.team_id, channel="email", name="Permit", wordings=[EN, ZH], request_id="r1"
    )


@pytest.mark.parametrize("who", ["ada", "dev", "sam"])
def test_developers_senders_and_administrators_create_a_template_in_two_languages(
    who: str,
) -> None:
    team = notify_team()
    template = created(team, who)
    assert [c.language for c in template.contents] == ["en", "zh-Hans"]
    assert template.channel == npb.CHANNEL_EMAIL
    assert sorted(template.placeholders) == ["name", "ref"]
    assert team.calls.connected == [(team.agency_id, ("notify:templates",))]
    assert team.audit() == [
        (f"{who}@agency.example", "create_template", {"template_id": template.id, "version": "1"})
    ]


def test_a_viewer_reads_templates_and_cannot_create_or_edit_one() -> None:
    team = notify_team()
    template = created(team)
    assert [t.id for t in team.templates.templates(staff("vic"), team.team_id)] == [template.id]
    assert team.calls.connected[-1] == (team.agency_id, ("notify:read",))
    with pytest.raises(PermissionDenied):
        team.templates.create(
            staff("vic"), team.team_id, channel="sms", name="x", wordings=[EN], request_id="r2"
        )
    with pytest.raises(PermissionDenied):
        team.templates.update(
            staff("vic"), team.team_id, template.id, name="x", wordings=[EN], request_id="r3"
        )
    assert team.notify.calls.count("CreateTemplate") == 1
    assert team.notify.calls.count("UpdateTemplate") == 0
    assert [a for _, a, _ in team.audit()] == ["create_template"]


def test_someone_outside_the_team_sees_no_template() -> None:
    team = notify_team()
    template = created(team)
    with pytest.raises(NotFound):
        team.templates.get(staff("eve"), team.team_id, template.id)
    with pytest.raises(NotFound):
        team.templates.templates(staff("eve"), team.team_id)


def test_editing_makes_a_new_version_and_records_it() -> None:
    team = notify_team()
    template = created(team)
    edited = Wording("en", "Permit ((ref)) ready", "Dear ((name)), see ((ref)).")
    updated = team.templates.update(
        staff("sam"),
        team.team_id,
        template.id,
        name="Permit 2",
        wordings=[edited, BLANK],
        request_id="r9",
    )
    assert (updated.version, updated.name, len(updated.contents)) == (2, "Permit 2", 1)
    assert team.audit()[-1] == (
        "sam@agency.example",
        "update_template",
        {"template_id": template.id, "version": "2"},
    )


def test_sending_the_form_twice_creates_one_template() -> None:
    team = notify_team()
    first, second = created(team), created(team)
    assert first.id == second.id
    assert len(team.notify.templates) == 1


def test_an_sms_template_has_no_subject_and_a_bad_channel_is_a_form_error() -> None:
    team = notify_team()
    sms = team.templates.create(
        staff("dev"), team.team_id, channel="sms", name="Code", wordings=[EN], request_id="s"
    )
    assert sms.channel == npb.CHANNEL_SMS
    assert sms.contents[0].subject == ""
    with pytest.raises(InvalidArgument) as refused:
        team.templates.create(
            staff("dev"), team.team_id, channel="fax", name="x", wordings=[EN], request_id="f"
        )
    assert [v.field for v in refused.value.violations] == ["channel"]
    assert "CreateTemplate" not in team.notify.calls[1:]


def test_notifys_refusal_names_the_forms_field_and_nothing_is_recorded() -> None:
    team = notify_team()
    with pytest.raises(InvalidArgument) as refused:
        team.templates.create(
            staff("dev"),
            team.team_id,
            channel="email",
            name="Permit",
            wordings=[EN, Wording("zh-Hans", "主题", "")],
            request_id="r1",
        )
    assert [v.field for v in refused.value.violations] == ["body_1"]
    assert team.audit() == []


def test_a_preview_fills_the_placeholders_and_a_missing_one_is_a_form_error() -> None:
    team = notify_team()
    template = created(team)
    preview = team.templates.preview(
        staff("vic"), team.team_id, template.id, "zh-Hans", {"name": "Ada", "ref": "P-1"}
    )
    assert (preview.subject, preview.language) == ("您的许可证 P-1", "zh-Hans")
    with pytest.raises(InvalidArgument) as refused:
        team.templates.preview(staff("vic"), team.team_id, template.id, "en", {"name": "Ada"})
    assert [v.field for v in refused.value.violations] == ["p_ref"]


def test_another_agencys_template_is_not_found() -> None:
    team = notify_team()
    with pytest.raises(NotFound):
        team.templates.get(staff("vic"), team.team_id, "tpl_elsewhere")


def test_each_version_is_attributed_to_the_staff_member_who_made_it() -> None:
    team = notify_team()
    template = created(team, "dev")
    team.templates.update(
        staff("sam"), team.team_id, template.id, name="P", wordings=[EN], request_id="r2"
    )
    versions = team.templates.versions(staff("vic"), team.team_id, template.id)
    assert [(v.version, v.changed_by) for v in versions] == [
        (2, "sam@agency.example"),
        (1, "dev@agency.example"),
    ]
    assert team.calls.connected[-1] == (team.agency_id, ("notify:read",))
    with pytest.raises(NotFound):
        team.templates.versions(staff("vic"), team.team_id, "tpl_elsewhere")
