"""A team's message templates at notify: list, read, create, edit and preview,
as the team's agency. Developers, senders and administrators edit; every member
reads. Each change is recorded in the team's audit trail (template id and
version, never the wording)."""

from __future__ import annotations

from dataclasses import dataclass

from gaap.notify.v1 import notify_pb2 as npb

from services.console.domain.roles import Action
from services.console.domain.staff import Staff
from services.console.service_layer.access import record
from services.console.service_layer.notify_calls import (
    Connect,
    idempotency_key,
    personalisation,
    refusals,
)
from services.console.service_layer.ports import ConsoleTransactions
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FieldViolation, InvalidArgument

LISTED = 500  # one page of notify's ListTemplates: a team's templates fit in it
VERSIONS = 50  # the latest versions a template's page lists
CHANNELS = {"email": npb.CHANNEL_EMAIL, "sms": npb.CHANNEL_SMS}


@dataclass(frozen=True)
class Wording:
    """One language's wording as the form has it (``subject`` empty for SMS)."""

    language: str
    subject: str
    body: str


class MessageTemplates:
    def __init__(
        self, transactions: ConsoleTransactions, connect: Connect, clock: Clock = utcnow
    ) -> None:
        self._uow = transactions
        self._connect = connect
        self._clock = clock

    def templates(self, staff: Staff, team_id: str) -> list[npb.Template]:
        with self._connect(staff, team_id, Action.VIEW_NOTIFICATIONS) as agency:
            found = agency.notify.ListTemplates(npb.ListTemplatesRequest(page_size=LISTED))
        return list(found.templates)

    def get(self, staff: Staff, team_id: str, template_id: str) -> npb.Template:
        with self._connect(staff, team_id, Action.VIEW_NOTIFICATIONS) as agency, refusals():
            return agency.notify.GetTemplate(npb.GetTemplateRequest(template_id=template_id))

    def versions(self, staff: Staff, team_id: str, template_id: str) -> list[npb.Template]:
        """The template's versions, newest first, each with the staff member who
        made it (notify's ``changed_by``, which the console sets to their email)."""
        request = npb.ListTemplateVersionsRequest(template_id=template_id, page_size=VERSIONS)
        with self._connect(staff, team_id, Action.VIEW_NOTIFICATIONS) as agency, refusals():
            return list(agency.notify.ListTemplateVersions(request).versions)

    def create(
        self,
        staff: Staff,
        team_id: str,
        *,
        channel: str,
        name: str,
        wordings: list[Wording],
        request_id: str,
    ) -> npb.Template:
        if channel not in CHANNELS:
            raise InvalidArgument.from_violations(
                [FieldViolation("channel", "Choose email or text message")]
            )
        request = npb.CreateTemplateRequest(
            channel=CHANNELS[channel],
            name=name,
            contents=_contents(wordings, channel == "sms"),
            idempotency_key=idempotency_key(staff, "template", request_id),
            changed_by=staff.email,
        )
        with self._connect(staff, team_id, Action.MANAGE_TEMPLATES) as agency, refusals():
            created = agency.notify.CreateTemplate(request)
        self._record(staff, team_id, "create_template", created)
        return created

    def update(
        self,
        staff: Staff,
        team_id: str,
        template_id: str,
        *,
        name: str,
        wordings: list[Wording],
        request_id: str,
    ) -> npb.Template:
        with self._connect(staff, team_id, Action.MANAGE_TEMPLATES) as agency, refusals():
            current = agency.notify.GetTemplate(npb.GetTemplateRequest(template_id=template_id))
            updated = agency.notify.UpdateTemplate(
                npb.UpdateTemplateRequest(
                    template_id=template_id,
                    name=name,
                    contents=_contents(wordings, current.channel == npb.CHANNEL_SMS),
                    idempotency_key=idempotency_key(staff, f"edit-{template_id}", request_id),
                    changed_by=staff.email,
                )
            )
        self._record(staff, team_id, "update_template", updated)
        return updated

    def preview(
        self, staff: Staff, team_id: str, template_id: str, language: str, values: dict[str, str]
    ) -> npb.Preview:
        """The template rendered with ``values`` (nothing is sent): the page shows
        what a recipient gets and, for SMS, how many fragments it costs."""
        request = npb.PreviewTemplateRequest(
            template_id=template_id, language=language, personalisation=personalisation(values)
        )
        with self._connect(staff, team_id, Action.VIEW_NOTIFICATIONS) as agency, refusals():
            return agency.notify.PreviewTemplate(request)

    def _record(self, staff: Staff, team_id: str, action: str, template: npb.Template) -> None:
        with self._uow() as uow:
            record(
                uow,
                staff,
                team_id,
                action,
                self._clock(),
                template_id=template.id,
                version=str(template.version),
            )


def _contents(wordings: list[Wording], sms: bool) -> list[npb.TemplateContent]:
    """The wordings, the default language first, less the form's blank ones at the
    end (so notify's ``contents[i]`` is still the form's ``i``); an SMS has no subject."""
    kept = list(wordings)
    while kept and not (kept[-1].language.strip() or kept[-1].subject or kept[-1].body):
        kept.pop()
    return [
        npb.TemplateContent(
            language=w.language.strip(), subject="" if sms else w.subject, body=w.body
        )
        for w in kept
    ]
