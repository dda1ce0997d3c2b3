"""``gaap.identity.v1.IdentityService``: translates messages and calls the service layer."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, TypeVar, cast

import grpc
from gaap.common.v1 import caller_pb2
from gaap.identity.v1 import identity_pb2, identity_pb2_grpc
from google.protobuf.message import Message
from google.protobuf.struct_pb2 import Struct

from services.identity.domain.agencies import Agency
from services.identity.domain.agency_credentials import DEFAULT_OVERLAP
from services.identity.domain.audit import AuditEvent, AuditFilter
from services.identity.service_layer.agencies import UPDATABLE, AgencyRegistry
from services.identity.service_layer.citizen_tokens import CitizenTokens
from services.identity.service_layer.introspection import Introspector
from services.identity.service_layer.keys import KeyStore
from services.identity.service_layer.operators import AccountStatus, Operators
from services.identity.service_layer.userinfo import UserInfoClaims
from services.runtime import idempotency
from services.runtime.clock import utcnow
from services.runtime.context import principal
from services.runtime.errors import (
    FailedPrecondition,
    FieldViolation,
    InvalidArgument,
    NotFound,
    Unauthenticated,
)
from services.runtime.grpc_server import GrpcService
from services.runtime.interceptors.auth import AUTHENTICATED, Access
from services.runtime.pagination import PageRequest
from services.runtime.timestamps import field_datetime, stamp_into, timestamp

SERVICE_NAME = identity_pb2.DESCRIPTOR.services_by_name["IdentityService"].full_name
TOKENS_SCOPE = "identity:tokens"
AGENCIES_SCOPE = "identity:agencies"
ACCOUNTS_SCOPE = "identity:accounts"
AUDIT_SCOPE = "identity:audit"
MAX_TOKEN = 8192
TOKEN_HINTS = ("", "access_token", "refresh_token")

POLICY: dict[str, Access] = {
    f"/{SERVICE_NAME}/GetJwks": AUTHENTICATED,
    f"/{SERVICE_NAME}/IntrospectToken": TOKENS_SCOPE,
    f"/{SERVICE_NAME}/RevokeToken": TOKENS_SCOPE,
    f"/{SERVICE_NAME}/GetUserInfo": TOKENS_SCOPE,
    f"/{SERVICE_NAME}/GetAgency": AGENCIES_SCOPE,
    f"/{SERVICE_NAME}/ListAgencies": AGENCIES_SCOPE,
    f"/{SERVICE_NAME}/CreateAgency": AGENCIES_SCOPE,
    f"/{SERVICE_NAME}/UpdateAgency": AGENCIES_SCOPE,
    f"/{SERVICE_NAME}/DisableAgency": AGENCIES_SCOPE,
    f"/{SERVICE_NAME}/RotateClientSecret": AGENCIES_SCOPE,
    f"/{SERVICE_NAME}/RevokeClientSecret": AGENCIES_SCOPE,
    f"/{SERVICE_NAME}/ReplaceJwks": AGENCIES_SCOPE,
    f"/{SERVICE_NAME}/SetAgencyMode": AGENCIES_SCOPE,
    f"/{SERVICE_NAME}/LookupAccount": ACCOUNTS_SCOPE,
    f"/{SERVICE_NAME}/LockAccount": ACCOUNTS_SCOPE,
    f"/{SERVICE_NAME}/UnlockAccount": ACCOUNTS_SCOPE,
    f"/{SERVICE_NAME}/ListAuditEvents": AUDIT_SCOPE,
}

_AUTH_METHODS = {
    "client_secret_basic": identity_pb2.CLIENT_AUTH_METHOD_CLIENT_SECRET_BASIC,
    "client_secret_post": identity_pb2.CLIENT_AUTH_METHOD_CLIENT_SECRET_POST,
    "private_key_jwt": identity_pb2.CLIENT_AUTH_METHOD_PRIVATE_KEY_JWT,
    "none": identity_pb2.CLIENT_AUTH_METHOD_NONE,
}
_MODES = {"test": caller_pb2.MODE_TEST, "live": caller_pb2.MODE_LIVE}
_PROFILES = {
    "standard": identity_pb2.AGENCY_PROFILE_STANDARD,
    "fapi2": identity_pb2.AGENCY_PROFILE_FAPI2,
}
_PROFILE_NAMES: dict[int, str] = {number: name for name, number in _PROFILES.items()}
M = TypeVar("M", bound=Message)


@dataclass(frozen=True)
class IdentityApi:
    """What the servicer calls: identity's service layer."""

    registry: AgencyRegistry
    keys: KeyStore
    introspector: Introspector
    userinfo: UserInfoClaims
    tokens: CitizenTokens
    operators: Operators


class IdentityServicer(identity_pb2_grpc.IdentityServiceServicer):
    def __init__(self, api: IdentityApi) -> None:
        self._api = api
        self._registry = api.registry

    def GetJwks(
        self, request: identity_pb2.GetJwksRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Jwks:
        return identity_pb2.Jwks(json=json.dumps(self._api.keys.jwks()))

    # -- tokens -------------------------------------------------------------------

    def IntrospectToken(
        self, request: identity_pb2.IntrospectTokenRequest, _: grpc.ServicerContext
    ) -> identity_pb2.TokenInfo:
        _check_token(request.token, "token", request.token_type_hint)
        info = self._api.introspector.introspect(request.token, principal().client_id)
        return token_info(info)

    def RevokeToken(
        self, request: identity_pb2.RevokeTokenRequest, _: grpc.ServicerContext
    ) -> identity_pb2.RevokeTokenResponse:
        _check_token(request.token, "token", request.token_type_hint)
        self._api.tokens.revoke(
            request.token, principal().client_id, request.token_type_hint or None
        )
        return identity_pb2.RevokeTokenResponse()

    def GetUserInfo(
        self, request: identity_pb2.GetUserInfoRequest, _: grpc.ServicerContext
    ) -> identity_pb2.UserInfo:
        _check_token(request.access_token, "access_token")
        try:
            claims = self._api.userinfo.claims_for(request.access_token, principal().client_id)
        except Unauthenticated:
            # The same answer for a forged, expired, revoked or another agency's token.
            raise NotFound(
                "access_token is not an active citizen access token issued to you"
            ) from None
        except PermissionError as exc:
            raise FailedPrecondition(f"access_token: {exc}") from None
        message = identity_pb2.UserInfo()
        message.claims.update(cast(dict[str, Any], claims))
        return message

    # -- agencies -------------------------------------------------------------------

    def GetAgency(
        self, request: identity_pb2.GetAgencyRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Agency:
        return agency_message(self._registry.get(request.agency_id))

    def ListAgencies(
        self, request: identity_pb2.ListAgenciesRequest, _: grpc.ServicerContext
    ) -> identity_pb2.ListAgenciesResponse:
        page = self._registry.list(
            PageRequest.parse(request.page_size, request.page_token),
            include_disabled=request.show_disabled,
        )
        return identity_pb2.ListAgenciesResponse(
            agencies=[agency_message(a) for a in page.items],
            next_page_token=page.next_page_token,
        )

    def CreateAgency(
        self, request: identity_pb2.CreateAgencyRequest, _: grpc.ServicerContext
    ) -> identity_pb2.CreateAgencyResponse:
        key = idempotency.keyed("CreateAgency", request, principal().client_id)
        jwks = _jwks(request.jwks_json) if request.jwks_json else None
        profile = _profile(request.profile, "profile", unspecified="standard")
        created = self._registry.create(
            name=request.name,
            scopes=list(request.scopes),
            redirect_uris=list(request.redirect_uris),
            mode="live" if request.mode == caller_pb2.MODE_LIVE else "test",
            jwks=jwks,
            public=request.public,
            subject_type=request.subject_type or "pairwise",
            sector_identifier=request.sector_identifier or None,
            id_token_alg=request.id_token_alg or "ES256",
            post_logout_redirect_uris=list(request.post_logout_redirect_uris),
            backchannel_logout_uri=request.backchannel_logout_uri or None,
            profile=profile,
            # proto3 cannot tell false from unset: false leaves them to the profile.
            require_pushed_authorization_requests=request.require_pushed_authorization_requests
            or None,
            require_signed_request_object=request.require_signed_request_object,
            dpop_bound_access_tokens=request.dpop_bound_access_tokens or None,
            keyed=key,
            actor=key.tenant,
        )
        return identity_pb2.CreateAgencyResponse(
            agency=agency_message(created.agency), client_secret=created.client_secret or ""
        )

    def UpdateAgency(
        self, request: identity_pb2.UpdateAgencyRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Agency:
        key = idempotency.keyed("UpdateAgency", request, principal().client_id)
        if not request.agency.id:
            raise InvalidArgument.from_violations(
                [FieldViolation("agency.id", "required: the agency to update")]
            )
        changes = {path: _field_value(request.agency, path) for path in request.update_mask.paths}
        if "profile" in changes:  # an update names the profile it switches to
            changes["profile"] = _profile(request.agency.profile, "agency.profile")
        with _prefixed("agency."):
            updated = self._registry.update(request.agency.id, changes, keyed=key, actor=key.tenant)
        return agency_message(updated)

    def DisableAgency(
        self, request: identity_pb2.DisableAgencyRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Agency:
        key = idempotency.keyed("DisableAgency", request, principal().client_id)
        _require(request.agency_id, "agency_id")
        return agency_message(
            self._registry.disable(request.agency_id, keyed=key, actor=key.tenant)
        )

    def RotateClientSecret(
        self, request: identity_pb2.RotateClientSecretRequest, _: grpc.ServicerContext
    ) -> identity_pb2.RotateClientSecretResponse:
        key = idempotency.keyed("RotateClientSecret", request, principal().client_id)
        _require(request.agency_id, "agency_id")
        overlap = (
            request.previous_secret_ttl.ToTimedelta()
            if request.HasField("previous_secret_ttl")
            else DEFAULT_OVERLAP
        )
        rotated = self._registry.rotate_secret(
            request.agency_id, overlap=overlap, keyed=key, actor=key.tenant
        )
        return identity_pb2.RotateClientSecretResponse(
            agency=agency_message(rotated.agency), client_secret=rotated.client_secret
        )

    def RevokeClientSecret(
        self, request: identity_pb2.RevokeClientSecretRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Agency:
        key = idempotency.keyed("RevokeClientSecret", request, principal().client_id)
        _require(request.agency_id, "agency_id")
        return agency_message(
            self._registry.revoke_previous_secret(request.agency_id, keyed=key, actor=key.tenant)
        )

    def ReplaceJwks(
        self, request: identity_pb2.ReplaceJwksRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Agency:
        key = idempotency.keyed("ReplaceJwks", request, principal().client_id)
        _require(request.agency_id, "agency_id")
        _require(request.jwks_json, "jwks_json")
        jwks = _jwks(request.jwks_json)
        return agency_message(
            self._registry.replace_jwks(request.agency_id, jwks, keyed=key, actor=key.tenant)
        )

    def SetAgencyMode(
        self, request: identity_pb2.SetAgencyModeRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Agency:
        key = idempotency.keyed("SetAgencyMode", request, principal().client_id)
        _require(request.agency_id, "agency_id")
        mode = "live" if request.mode == caller_pb2.MODE_LIVE else "test"
        return agency_message(
            self._registry.set_mode(request.agency_id, mode, keyed=key, actor=key.tenant)
        )

    # -- accounts -------------------------------------------------------------------

    def LookupAccount(
        self, request: identity_pb2.LookupAccountRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Account:
        found = self._api.operators.lookup(account_id=request.account_id, email=request.email)
        return account_message(found)

    def LockAccount(
        self, request: identity_pb2.LockAccountRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Account:
        key = idempotency.keyed("LockAccount", request, principal().client_id)
        until = field_datetime(request, "lock_until")
        locked = self._api.operators.lock(
            request.account_id, until=until, reason=request.reason, actor=key.tenant, keyed=key
        )
        return account_message(locked)

    def UnlockAccount(
        self, request: identity_pb2.UnlockAccountRequest, _: grpc.ServicerContext
    ) -> identity_pb2.Account:
        key = idempotency.keyed("UnlockAccount", request, principal().client_id)
        unlocked = self._api.operators.unlock(
            request.account_id, reason=request.reason, actor=key.tenant, keyed=key
        )
        return account_message(unlocked)

    # -- audit ----------------------------------------------------------------------

    def ListAuditEvents(
        self, request: identity_pb2.ListAuditEventsRequest, _: grpc.ServicerContext
    ) -> identity_pb2.ListAuditEventsResponse:
        where = AuditFilter(
            types=list(request.types),
            account_id=request.account_id or None,
            client_id=request.agency_id or None,
            since=field_datetime(request, "start_time"),
            until=field_datetime(request, "end_time"),
        )
        page = self._api.operators.audit_events(
            where, PageRequest.parse(request.page_size, request.page_token)
        )
        return identity_pb2.ListAuditEventsResponse(
            events=[audit_message(e) for e in page.items], next_page_token=page.next_page_token
        )


# -- translation ------------------------------------------------------------------


def agency_message(agency: Agency) -> identity_pb2.Agency:
    message = identity_pb2.Agency(
        id=agency.client_id,
        name=agency.name,
        mode=_MODES[agency.mode],
        scopes=list(agency.scopes),
        redirect_uris=list(agency.redirect_uris),
        auth_methods=[_AUTH_METHODS[m] for m in agency.auth_methods],
        create_time=timestamp(agency.created_at),
        disabled=agency.disabled,
        subject_type=agency.subject_type,
        sector_identifier=agency.sector_identifier or "",
        id_token_alg=agency.id_token_alg,
        post_logout_redirect_uris=list(agency.post_logout_redirect_uris),
        backchannel_logout_uri=agency.backchannel_logout_uri or "",
        require_pushed_authorization_requests=agency.require_pushed_authorization_requests,
        profile=_PROFILES[agency.profile],
        require_signed_request_object=agency.require_signed_request_object,
        dpop_bound_access_tokens=agency.dpop_bound_access_tokens,
        display_name=agency.display_name or "",
        logo_uri=agency.logo_uri or "",
        jwks_json=json.dumps(agency.jwks, sort_keys=True) if agency.jwks is not None else "",
    )
    stamp_into(message.disable_time, agency.disabled_at)
    if agency.secret_hash is not None:
        stamp_into(message.secret.create_time, agency.secret_created_at or agency.created_at)
        stamp_into(message.secret.last_use_time, agency.secret_last_used_at)
    previous = agency.live_previous_secret(utcnow())
    if previous is not None:
        stamp_into(message.previous_secret.create_time, previous.created_at)
        stamp_into(message.previous_secret.last_use_time, previous.last_used_at)
        stamp_into(message.previous_secret.expire_time, previous.expires_at)
    return message


def token_info(info: dict[str, Any]) -> identity_pb2.TokenInfo:
    if not info.get("active"):
        return identity_pb2.TokenInfo(active=False)
    aud = info.get("aud", [])
    return identity_pb2.TokenInfo(
        active=True,
        scope=info.get("scope", ""),
        client_id=info.get("client_id", ""),
        sub=info.get("sub", ""),
        exp=int(info.get("exp", 0)),
        iat=int(info.get("iat", 0)),
        iss=info.get("iss", ""),
        aud=[aud] if isinstance(aud, str) else list(aud),
        jti=info.get("jti", ""),
        token_type=info.get("token_type", ""),
        acr=info.get("acr", ""),
        amr=list(info.get("amr", [])),
        auth_time=int(info.get("auth_time", 0)),
        sid=info.get("sid", ""),
        gaap_mode=info.get("gaap_mode", ""),
        # RFC 9449 §6.2 and RFC 8693 §4.1, as the HTTP introspection answers them.
        cnf=identity_pb2.Confirmation(jkt=info["cnf"]["jkt"]) if "cnf" in info else None,
        act=identity_pb2.Actor(sub=info["act"]["sub"]) if "act" in info else None,
    )


def account_message(account: AccountStatus) -> identity_pb2.Account:
    message = identity_pb2.Account(
        id=account.account_id,
        email=account.email,
        email_verified=account.email_verified,
        phone_number_verified=account.phone_number_verified,
        has_second_factor=account.has_second_factor,
        locked=account.locked,
        locked_indefinitely=account.locked_indefinitely,
        failed_attempts=account.failed_attempts,
        create_time=timestamp(account.created_at),
    )
    stamp_into(message.locked_until, account.locked_until)
    return message


def audit_message(event: AuditEvent) -> identity_pb2.AuditEvent:
    details = Struct()
    details.update(event.details)
    return identity_pb2.AuditEvent(
        id=event.id,
        time=timestamp(event.at),
        type=str(event.type),
        account_id=event.account_id or "",
        agency_id=event.client_id or "",
        ip=event.ip or "",
        details=details,
    )


def _field_value(agency: identity_pb2.Agency, path: str) -> Any:
    """The value at ``path`` for an update: lists for repeated fields, None for a
    cleared optional URI or sector. Unknown paths pass through to be refused."""
    if path not in UPDATABLE:
        return None
    value = getattr(agency, path)
    if path in ("sector_identifier", "backchannel_logout_uri", "display_name", "logo_uri"):
        return value or None
    return list(value) if not isinstance(value, str | bool | int) else value


def _profile(number: int, field: str, *, unspecified: str | None = None) -> str:
    """The domain's profile for an ``AgencyProfile`` value; unspecified is the
    default on create and refused in an update (it would not say which)."""
    if number == identity_pb2.AGENCY_PROFILE_UNSPECIFIED and unspecified is not None:
        return unspecified
    if number not in _PROFILE_NAMES:
        allowed = "AGENCY_PROFILE_STANDARD or AGENCY_PROFILE_FAPI2"
        raise InvalidArgument.from_violations([FieldViolation(field, f"must be {allowed}")])
    return _PROFILE_NAMES[number]


@contextmanager
def _prefixed(prefix: str) -> Iterator[None]:
    """Report an embedded message's violations with their full field paths."""
    try:
        yield
    except InvalidArgument as exc:
        fields = [
            v if v.field == "update_mask" else FieldViolation(prefix + v.field, v.description)
            for v in exc.violations
        ]
        raise InvalidArgument.from_violations(fields) from None


def _jwks(text: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArgument.from_violations(
            [FieldViolation("jwks_json", f"not JSON: {exc.msg} at line {exc.lineno}")]
        ) from None
    if not isinstance(document, dict):
        raise InvalidArgument.from_violations(
            [FieldViolation("jwks_json", "must be a JWK Set object")]
        )
    return document


def _require(value: str, field: str) -> None:
    if not value:
        raise InvalidArgument.from_violations([FieldViolation(field, "required")])


def _check_token(token: str, field: str, hint: str = "") -> None:
    violations = []
    if not token:
        violations.append(FieldViolation(field, "required"))
    elif len(token) > MAX_TOKEN:
        violations.append(FieldViolation(field, f"at most {MAX_TOKEN} characters"))
    if hint not in TOKEN_HINTS:
        violations.append(
            FieldViolation("token_type_hint", "empty, 'access_token' or 'refresh_token'")
        )
    if violations:
        raise InvalidArgument.from_violations(violations)


def identity_service(api: IdentityApi) -> GrpcService:
    servicer = IdentityServicer(api)
    return GrpcService(
        SERVICE_NAME,
        lambda server: identity_pb2_grpc.add_IdentityServiceServicer_to_server(servicer, server),
    )
