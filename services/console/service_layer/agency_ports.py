"""identity's operator API for a team's agency (scope identity:agencies, called
with the console's own token). Refusals come back as the runtime's errors:
``InvalidArgument`` with identity's field paths, ``FailedPrecondition``."""

from __future__ import annotations

from typing import Protocol

from services.console.domain.agency_settings import AgencyView, SignInSettings


class AgencyAdmin(Protocol):
    def get(self, agency_id: str) -> AgencyView: ...

    def rotate_secret(self, agency_id: str, idempotency_key: str) -> tuple[AgencyView, str]:
        """The agency and its new secret (empty on a replay)."""
        ...

    def revoke_previous_secret(self, agency_id: str, idempotency_key: str) -> AgencyView: ...

    def replace_jwks(self, agency_id: str, jwks_json: str, idempotency_key: str) -> AgencyView: ...

    def set_live(self, agency_id: str, idempotency_key: str) -> AgencyView: ...

    def disable(self, agency_id: str, idempotency_key: str) -> AgencyView: ...

    def all(self, limit: int = 500) -> list[AgencyView]:
        """Every agency, disabled ones too, by id."""
        ...

    def update_sign_in(
        self,
        agency_id: str,
        settings: SignInSettings,
        fields: list[str],
        idempotency_key: str,
    ) -> AgencyView: ...
