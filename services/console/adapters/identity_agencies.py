"""identity's operator methods for a team's agency over gRPC, as the console's
agency (scope ``identity:agencies``). Refusals become the runtime's errors, so a
page shows identity's field violations on its form."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from gaap.common.v1 import caller_pb2
from gaap.identity.v1 import identity_pb2 as ipb
from google.protobuf.field_mask_pb2 import FieldMask
from google.protobuf.timestamp_pb2 import Timestamp

from gaap_client import GaapClient, GaapError
from services.console.domain.agency_settings import AgencyView, SecretDates, SignInSettings
from services.runtime.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
)


class IdentityAgencies:
    def __init__(self, client: GaapClient) -> None:
        self._client = client

    def get(self, agency_id: str) -> AgencyView:
        with _refusals():
            return agency_view(
                self._client.identity.GetAgency(ipb.GetAgencyRequest(agency_id=agency_id))
            )

    def rotate_secret(self, agency_id: str, idempotency_key: str) -> tuple[AgencyView, str]:
        with _refusals():
            reply = self._client.identity.RotateClientSecret(
                ipb.RotateClientSecretRequest(agency_id=agency_id, idempotency_key=idempotency_key)
            )
        return agency_view(reply.agency), reply.client_secret

    def revoke_previous_secret(self, agency_id: str, idempotency_key: str) -> AgencyView:
        return self._call(
            lambda: self._client.identity.RevokeClientSecret(
                ipb.RevokeClientSecretRequest(agency_id=agency_id, idempotency_key=idempotency_key)
            )
        )

    def replace_jwks(self, agency_id: str, jwks_json: str, idempotency_key: str) -> AgencyView:
        return self._call(
            lambda: self._client.identity.ReplaceJwks(
                ipb.ReplaceJwksRequest(
                    agency_id=agency_id, jwks_json=jwks_json, idempotency_key=idempotency_key
                )
            )
        )

    def set_live(self, agency_id: str, idempotency_key: str) -> AgencyView:
        return self._call(
            lambda: self._client.identity.SetAgencyMode(
                ipb.SetAgencyModeRequest(
                    agency_id=agency_id, mode=caller_pb2.MODE_LIVE, idempotency_key=idempotency_key
                )
            )
        )

    def disable(self, agency_id: str, idempotency_key: str) -> AgencyView:
        return self._call(
            lambda: self._client.identity.DisableAgency(
                ipb.DisableAgencyRequest(agency_id=agency_id, idempotency_key=idempotency_key)
            )
        )

    def all(self, limit: int = 500) -> list[AgencyView]:
        with _refusals():
            listed = self._client.identity.ListAgencies(
                ipb.ListAgenciesRequest(page_size=limit, show_disabled=True)
            )
        return [agency_view(a) for a in listed.agencies]

    def update_sign_in(
        self,
        agency_id: str,
        settings: SignInSettings,
        fields: list[str],
        idempotency_key: str,
    ) -> AgencyView:
        agency = ipb.Agency(
            id=agency_id,
            redirect_uris=list(settings.redirect_uris),
            post_logout_redirect_uris=list(settings.post_logout_redirect_uris),
            sector_identifier=settings.sector_identifier,
            display_name=settings.display_name,
            logo_uri=settings.logo_uri,
        )
        return self._call(
            lambda: self._client.identity.UpdateAgency(
                ipb.UpdateAgencyRequest(
                    agency=agency,
                    update_mask=FieldMask(paths=fields),
                    idempotency_key=idempotency_key,
                )
            )
        )

    @staticmethod
    def _call(call: Callable[[], ipb.Agency]) -> AgencyView:
        with _refusals():
            return agency_view(call())


def agency_view(agency: ipb.Agency) -> AgencyView:
    return AgencyView(
        agency_id=agency.id,
        name=agency.name,
        mode="live" if agency.mode == caller_pb2.MODE_LIVE else "test",
        disabled=agency.disabled,
        uses_keys=ipb.CLIENT_AUTH_METHOD_PRIVATE_KEY_JWT in agency.auth_methods,
        fapi2=agency.profile == ipb.AGENCY_PROFILE_FAPI2,
        public=list(agency.auth_methods) == [ipb.CLIENT_AUTH_METHOD_NONE],
        secret=_dates(agency.secret) if agency.HasField("secret") else None,
        previous_secret=(
            _dates(agency.previous_secret) if agency.HasField("previous_secret") else None
        ),
        jwks_json=agency.jwks_json,
        scopes=tuple(agency.scopes),
        redirect_uris=tuple(agency.redirect_uris),
        post_logout_redirect_uris=tuple(agency.post_logout_redirect_uris),
        sector_identifier=agency.sector_identifier,
        display_name=agency.display_name,
        logo_uri=agency.logo_uri,
    )


def _dates(info: ipb.ClientSecretInfo) -> SecretDates:
    return SecretDates(
        _time(info.create_time, info.HasField("create_time")),
        _time(info.last_use_time, info.HasField("last_use_time")),
        _time(info.expire_time, info.HasField("expire_time")),
    )


def _time(stamp: Timestamp, present: bool) -> datetime | None:
    return stamp.ToDatetime(tzinfo=UTC) if present else None


@contextmanager
def _refusals() -> Iterator[None]:
    """identity's refusals as the runtime's errors, its field paths kept."""
    try:
        yield
    except GaapError as exc:
        name = exc.status.name
        if name == "INVALID_ARGUMENT":
            violations = [FieldViolation(v.field, v.description) for v in exc.field_violations]
            raise InvalidArgument.from_violations(
                violations or [FieldViolation("", exc.message)]
            ) from None
        if name == "FAILED_PRECONDITION":
            raise FailedPrecondition(exc.message) from None
        if name == "NOT_FOUND":
            raise NotFound(exc.message) from None
        raise
