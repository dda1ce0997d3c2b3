"""Templates: create, new versions, read, preview."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import cast

from sqlalchemy.orm import Session, sessionmaker

from services.notify.adapters import tables
from services.notify.adapters.repositories import Templates, page_key
from services.notify.domain import templates as rules
from services.notify.domain.placeholders import Value
from services.notify.domain.statuses import Channel
from services.notify.domain.templates import Content, Rendered, Template
from services.runtime.db import transaction
from services.runtime.db_types import utcnow
from services.runtime.errors import InvalidArgument, NotFound
from services.runtime.idempotency import Keyed, Replay, run_once
from services.runtime.idempotency_sql import session_work
from services.runtime.ids import new_id
from services.runtime.pagination import Page, PageRequest


def load(session: Session, tenant: str, template_id: str, version: int = 0) -> Template:
    found = Templates(session).get(tenant, template_id, version) if template_id else None
    if found is None:
        raise NotFound(f"no template {template_id!r}" + (f" version {version}" if version else ""))
    return found


class TemplateService:
    def __init__(self, sessions: sessionmaker[Session]) -> None:
        self._sessions = sessions
        self._keyed_work = session_work(sessions, tables.idempotency_keys)

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
        now = utcnow()

        def work(session: Session) -> Template:
            template = Template(
                new_id("tpl"), tenant, 1, cast(Channel, channel), name, tuple(contents), now, now
            )
            Templates(session).add(template)
            return template

        return run_once(self._keyed_work, call, lambda w: work(w.session), encode)

    def update(
        self,
        tenant: str,
        template_id: str,
        name: str,
        contents: Sequence[Content],
        call: Keyed,
        encode: Callable[[Template], bytes],
    ) -> Template | Replay:
        def work(session: Session) -> Template:
            current = Templates(session).get(tenant, template_id, lock=True)
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
                utcnow(),
            )
            Templates(session).add(template)
            return template

        return run_once(self._keyed_work, call, lambda w: work(w.session), encode)

    def get(self, tenant: str, template_id: str, version: int = 0) -> Template:
        with transaction(self._sessions) as session:
            return load(session, tenant, template_id, version)

    def list(self, tenant: str, page: PageRequest, channel: str | None) -> Page[Template]:
        with transaction(self._sessions) as session:
            found = Templates(session).list(tenant, page.size, page.after, channel)
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
