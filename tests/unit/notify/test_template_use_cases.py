"""Templates: create, new versions, read, list, preview (on fakes)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from services.notify.domain.templates import Content, Template
from services.runtime.errors import AlreadyExists, InvalidArgument, NotFound
from services.runtime.idempotency import Replay
from services.runtime.pagination import PageRequest
from tests.unit.notify.conftest import AGENCY, OTHER, Notify, call, encoded

TENANT = AGENCY.client_id


def test_a_new_template_is_version_one_and_can_be_read(notify: Notify) -> None:
    created = notify.template("Hello ((name))")
    assert (created.version, created.channel, created.placeholders) == (1, "email", ["name"])
    assert notify.templates.get(TENANT, created.id) == created
    assert notify.templates.get(TENANT, created.id, 1) == created


def test_a_template_is_not_visible_to_another_agency(notify: Notify) -> None:
    created = notify.template()
    with pytest.raises(NotFound):
        notify.templates.get(OTHER.client_id, created.id)


def test_an_invalid_template_is_refused_and_nothing_is_stored(notify: Notify) -> None:
    with pytest.raises(InvalidArgument):
        notify.templates.create(TENANT, "pigeon", "", [Content("en", "", "")], call(), encoded)
    assert notify.state.templates.versions == {}
    assert notify.state.idempotency.rows == {}


def test_creating_again_with_the_same_key_replays_the_first_response(notify: Notify) -> None:
    first = call()
    contents = [Content("en", "Hi", "Body")]
    created = notify.templates.create(TENANT, "email", "T", contents, first, encoded)
    again = notify.templates.create(TENANT, "email", "T", contents, first, encoded)
    assert again == Replay(encoded(created))
    assert len(notify.state.templates.versions) == 1


def test_a_key_reused_for_another_request_is_refused(notify: Notify) -> None:
    key = call().key
    contents = [Content("en", "Hi", "Body")]
    notify.templates.create(TENANT, "email", "T", contents, call(key=key), encoded)
    with pytest.raises(AlreadyExists):
        notify.templates.create(
            TENANT, "email", "U", contents, call(key=key, fingerprint="other"), encoded
        )
    assert len(notify.state.templates.versions) == 1


def test_an_update_adds_a_version_and_keeps_the_old_one(notify: Notify) -> None:
    created = notify.template("Version one")
    notify.clock.advance(timedelta(minutes=1))
    updated = notify.templates.update(
        TENANT, created.id, "Renamed", [Content("en", "Version two", "Body")], call(), encoded
    )
    assert isinstance(updated, Template)
    assert (updated.version, updated.name, updated.created_at) == (2, "Renamed", created.created_at)
    assert updated.version_at == notify.clock.now
    assert notify.templates.get(TENANT, created.id).version == 2
    assert notify.templates.get(TENANT, created.id, 1).contents[0].subject == "Version one"
    assert notify.state.templates.locked == [created.id]  # held against a racing update


def test_updating_an_unknown_or_another_agencys_template_is_not_found(notify: Notify) -> None:
    theirs = notify.template(tenant=OTHER.client_id)
    for template_id in ("tpl_missing", theirs.id):
        with pytest.raises(NotFound):
            notify.templates.update(
                TENANT, template_id, "T", [Content("en", "S", "B")], call(), encoded
            )
    assert notify.templates.get(OTHER.client_id, theirs.id).version == 1


def test_an_invalid_update_changes_nothing(notify: Notify) -> None:
    created = notify.template()
    with pytest.raises(InvalidArgument):
        notify.templates.update(TENANT, created.id, "", [], call(), encoded)
    assert notify.templates.get(TENANT, created.id).version == 1


def test_an_unknown_version_is_not_found(notify: Notify) -> None:
    created = notify.template()
    with pytest.raises(NotFound, match="version 2"):
        notify.templates.get(TENANT, created.id, 2)


def test_templates_are_listed_newest_first_a_page_at_a_time(notify: Notify) -> None:
    made = []
    for channel in ("email", "sms", "email"):
        made.append(notify.template("S" if channel == "email" else "", "B", channel=channel))
        notify.clock.advance(timedelta(seconds=1))
    notify.template(tenant=OTHER.client_id)
    first = notify.templates.list(TENANT, PageRequest.parse(2, ""), None)
    assert [t.id for t in first.items] == [made[2].id, made[1].id]
    rest = notify.templates.list(TENANT, PageRequest.parse(2, first.next_page_token), None)
    assert [t.id for t in rest.items] == [made[0].id]
    assert rest.next_page_token == ""
    emails = notify.templates.list(TENANT, PageRequest.parse(10, ""), "email")
    assert [t.id for t in emails.items] == [made[2].id, made[0].id]


def test_a_preview_renders_the_version_with_html(notify: Notify) -> None:
    created = notify.template("Hello ((name))", "Dear ((name))")
    preview = notify.templates.preview(TENANT, created.id, 1, {"name": "Ada"}, "")
    assert (preview.subject, preview.body) == ("Hello Ada", "Dear Ada")
    assert "Dear Ada" in preview.html
    with pytest.raises(InvalidArgument):
        notify.templates.preview(TENANT, created.id, 1, {}, "")  # name is missing


def test_each_version_keeps_who_made_it_and_the_versions_are_listed_newest_first(
    notify: Notify,
) -> None:
    created = notify.templates.create(
        TENANT,
        "email",
        "Permit",
        [Content("en", "One", "Body")],
        call(),
        encoded,
        changed_by="ada@agency.example",
        actor="console-client",
    )
    assert isinstance(created, Template)
    for n in (2, 3):
        notify.clock.advance(timedelta(minutes=1))
        notify.templates.update(
            TENANT,
            created.id,
            "Permit",
            [Content("en", f"Version {n}", "Body")],
            call(),
            encoded,
            changed_by=f"staff{n}@agency.example",
        )
    page = notify.templates.versions(TENANT, created.id, PageRequest(2, None))
    assert [(t.version, t.changed_by, t.actor) for t in page.items] == [
        (3, "staff3@agency.example", ""),
        (2, "staff2@agency.example", ""),
    ]
    rest = notify.templates.versions(TENANT, created.id, PageRequest(2, "2"))
    assert [(t.version, t.changed_by, t.actor) for t in rest.items] == [
        (1, "ada@agency.example", "console-client")
    ]
    assert rest.next_page_token == ""
    with pytest.raises(NotFound):
        notify.templates.versions(OTHER.client_id, created.id, PageRequest(2, None))
    with pytest.raises(InvalidArgument, match="page_token"):
        notify.templates.versions(TENANT, created.id, PageRequest(2, "x"))


@pytest.mark.parametrize("changed_by", ["x" * 321, "ada\nbob", "\x00"])
def test_a_bad_changed_by_is_refused_and_nothing_is_stored(notify: Notify, changed_by: str) -> None:
    created = notify.template()
    with pytest.raises(InvalidArgument, match="changed_by"):
        notify.templates.update(
            TENANT,
            created.id,
            "N",
            [Content("en", "S", "B")],
            call(),
            encoded,
            changed_by=changed_by,
        )
    with pytest.raises(InvalidArgument, match="changed_by"):
        notify.templates.create(
            TENANT,
            "email",
            "N",
            [Content("en", "S", "B")],
            call(),
            encoded,
            changed_by=changed_by,
        )
    assert [len(v) for v in notify.state.templates.versions.values()] == [1]
