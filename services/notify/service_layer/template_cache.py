"""The latest version of each template as last seen by this process.

Every single send renders with a template; reading it afresh each time would
cost a transaction per send. A cached version is safe to use because every
write checks it is still the latest (``SendWriter``): a send rendered with an
old one comes back ``stale`` and its caller forgets it and renders again.
"""

from __future__ import annotations

from services.notify.domain.templates import Template
from services.notify.service_layer.unit_of_work import NotifyTransactions, NotifyWork
from services.runtime.errors import FieldViolation, InvalidArgument, NotFound

MAX_CACHED_TEMPLATES = 4096


def load(uow: NotifyWork, tenant: str, template_id: str, version: int = 0) -> Template:
    """A template's version (0: the latest), or ``NotFound``."""
    found = uow.templates.get(tenant, template_id, version) if template_id else None
    if found is None:
        raise NotFound(f"no template {template_id!r}" + (f" version {version}" if version else ""))
    return found


def required(uow: NotifyWork, tenant: str, template_id: str) -> Template:
    """The latest version of a template a send names (``template_id`` required)."""
    if not template_id:
        raise InvalidArgument.from_violations([FieldViolation("template_id", "required")])
    return load(uow, tenant, template_id)


class LatestTemplates:
    def __init__(self, uow: NotifyTransactions, max_size: int = MAX_CACHED_TEMPLATES) -> None:
        self._uow = uow
        self._max_size = max_size
        self._cached: dict[tuple[str, str], Template] = {}

    def get(self, tenant: str, template_id: str, channel: str) -> Template:
        """The template for a send on ``channel`` (refused if it is another channel's)."""
        key = (tenant, template_id)
        found = self._cached.get(key)
        if found is None:
            with self._uow.read() as uow:
                found = required(uow, tenant, template_id)
            if len(self._cached) >= self._max_size:
                self._cached.clear()
            self._cached[key] = found
        if found.channel != channel:
            raise InvalidArgument.from_violations(
                [FieldViolation("template_id", f"is an {found.channel} template, not {channel}")]
            )
        return found

    def forget(self, tenant: str, template_id: str) -> None:
        self._cached.pop((tenant, template_id), None)
