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
from services.runtime.errors import InvalidArgument, NotFound
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
    ) -> Template | Replay:
        problems = rules.validate(channel, name, contents)
        if problems:
            raise InvalidArgument.from_violations(problems)
        now = self._clock()

        def work(uow: NotifyWork) -> Template:
            template = Template(
                new_id("tpl"), tenant, 1, cast(Channel, channel), name, tuple(contents), now, now
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
    ) -> Template | Replay:
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
            )
            uow.templates.add(template)
            return template

        return run_once(self._uow, call, work, encode)

    def get(self, tenant: str, template_id: str, version: int = 0) -> Template:
        with self._uow.read() as uow:
            return load(uow, tenant, template_id, version)

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
