"""Templates: create, new versions, read, preview."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import cast

from services.notify.domain import templates as rules
from services.notify.domain.paging import page_key
from services.notify.domain.placeholders import Value
from services.notify.domain.statuses import Channel
from services.notify.domain.templates import Content, Rendered, Template
from services.notify.service_layer.template_cache import load
from services.notify.service_layer.unit_of_work import NotifyTransactions, NotifyWork
from services.runtime.clock import Clock, utcnow
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound
from services.runtime.idempotency import Keyed, Replay, run_once
from services.runtime.ids import new_id
from services.runtime.pagination import Page, PageRequest


class TemplateService:
    def __init__(self, uow: NotifyTransactions, clock: Clock = utcnow) -> None:
        self._uow = uow
        self._clock = clock

    def create(
        self,
        tenant: str,
        channel: str,
        name: str,
        contents: Sequence[Content],
        call: Keyed,
        encode: Callable[[Template], bytes],
        *,
        changed_by: str = "",
        actor: str = "",
    ) -> Template | Replay:
        problems = rules.validate(channel, name, contents) + rules.check_changed_by(changed_by)
        if problems:
            raise InvalidArgument.from_violations(problems)
        now = self._clock()

        def work(uow: NotifyWork) -> Template:
            template = Template(
                new_id("tpl"),
                tenant,
                1,
                cast(Channel, channel),
                name,
                tuple(contents),
                now,
                now,
                changed_by,
                actor,
            )
            uow.templates.add(template)
            return template

        return run_once(self._uow, call, work, encode)

    def update(
        self,
        tenant: str,
        template_id: str,
        name: str,
        contents: Sequence[Content],
        call: Keyed,
        encode: Callable[[Template], bytes],
        *,
        changed_by: str = "",
        actor: str = "",
    ) -> Template | Replay:
        """A new version; ``changed_by`` is the caller's word for who made it and
        ``actor`` the verified client acting for the agency, kept with it."""
        wrong = rules.check_changed_by(changed_by)
        if wrong:
            raise InvalidArgument.from_violations(wrong)

        def work(uow: NotifyWork) -> Template:
            current = uow.templates.get(tenant, template_id, lock=True)
            if current is None:
                raise NotFound(f"no template {template_id!r}")
            problems = rules.validate(current.channel, name, contents)
            if problems:
                raise InvalidArgument.from_violations(problems)
            template = Template(
                current.id,
                tenant,
                current.version + 1,
                current.channel,
                name,
                tuple(contents),
                current.created_at,
                self._clock(),
                changed_by,
                actor,
            )
            uow.templates.add(template)
            return template

        return run_once(self._uow, call, work, encode)

    def get(self, tenant: str, template_id: str, version: int = 0) -> Template:
        with self._uow.read() as uow:
            return load(uow, tenant, template_id, version)

    def versions(self, tenant: str, template_id: str, page: PageRequest) -> Page[Template]:
        """Every version of a template, newest first, with who made each."""
        before = _version_token(page.after)
        with self._uow.read() as uow:
            if uow.templates.get(tenant, template_id) is None:
                raise NotFound(f"no template {template_id!r}")
            found = uow.templates.history(tenant, template_id, page.size, before)
        return Page.from_overfetch(found, page.size, lambda t: str(t.version))

    def list(self, tenant: str, page: PageRequest, channel: str | None) -> Page[Template]:
        with self._uow.read() as uow:
            found = uow.templates.list(tenant, page.size, page.after, channel)
        return Page.from_overfetch(found, page.size, lambda t: page_key(t.created_at, t.id))

    def preview(
        self,
        tenant: str,
        template_id: str,
        version: int,
        values: Mapping[str, Value],
        language: str,
    ) -> Rendered:
        template = self.get(tenant, template_id, version)
        return rules.render(template, rules.check_values(values), language, with_html=True)


def _version_token(after: str | None) -> int | None:
    """ListTemplateVersions' page token: the last version given (a number)."""
    if not after:
        return None
    if not after.isdigit():
        raise InvalidArgument.from_violations([FieldViolation("page_token", "not a page token")])
    return int(after)
