"""JWT-secured authorization requests (RFC 9101): a ``request`` parameter holding
the authorization request as a JWT signed by one of the agency's registered keys.

Its claims are the request's parameters (§6.3: any sent beside it are ignored,
but the ``client_id`` beside it must match). Every refusal is
``invalid_request_object`` (§6.2), shown and never redirected: until the
signature and claims are checked, no redirect URI in it can be trusted.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from joserfc import jws
from joserfc.errors import JoseError
from joserfc.jwk import ECKey, RSAKey

from services.identity.domain.agencies import Agency
from services.identity.domain.authorization import AuthorizationError, check_client
from services.identity.domain.client_keys import key_set

# ES256 and PS256 for every agency (FAPI 2.0 §5.4); RS256 only for a standard
# agency whose registered key says ``"alg": "RS256"``. Never ``none`` or HS*.
ALGORITHMS = ("ES256", "PS256")
LEGACY_ALGORITHM = "RS256"
SIGNING_ALGORITHMS = (*ALGORITHMS, LEGACY_ALGORITHM)  # discovery's list
_KEY_TYPES = {"ES256": "EC", "PS256": "RSA", "RS256": "RSA"}
# RFC 9101 §10.8, with or without the ``application/`` prefix (RFC 7515 §4.1.9).
TYP = "oauth-authz-req+jwt"
_TYPES = frozenset({TYP, "application/" + TYP})
# FAPI 2.0 Message Signing §5.3.1: valid for at most 60 minutes.
MAX_LIFETIME = timedelta(minutes=60)
LEEWAY = timedelta(seconds=30)  # clock skew, as for client assertions
MAX_SIZE = 16_384
MAX_JTI = 255
# The JWT's own claims (RFC 7519 §4.1): not authorization request parameters.
_JWT_CLAIMS = frozenset({"iss", "aud", "exp", "nbf", "iat", "jti"})
# A request object's jti is kept with client assertions' (same store, same
# client_id), under a prefix so the two never collide.
_JTI_PREFIX = "request-object:"
SIGNED_REQUIRED = "signed request object required"


@dataclass(frozen=True)
class RequestObject:
    """A verified request object: its parameters, and its ``jti`` (if any) to
    record as used until ``expires_at``."""

    params: dict[str, str]
    jti: str | None
    expires_at: datetime

    @property
    def ledger_jti(self) -> str | None:
        """The id to record once per client: hashed, so any length up to MAX_JTI fits."""
        if self.jti is None:
            return None
        return _JTI_PREFIX + hashlib.sha256(self.jti.encode()).hexdigest()


def refused(description: str) -> AuthorizationError:
    return AuthorizationError("invalid_request_object", description, redirectable=False)


def unpack(
    params: Mapping[str, str], agency: Agency, issuer: str, now: datetime
) -> tuple[Mapping[str, str], RequestObject | None]:
    """The parameters of the request ``params`` carry for ``agency``: those of
    its request object if it has one, else ``params`` themselves (refused with
    ``invalid_request`` if the agency must sign its requests)."""
    token = params.get("request")
    if token is None:
        if agency.require_signed_request_object:
            check_client(params, agency)  # a registered redirect URI may hear the refusal
            raise AuthorizationError("invalid_request", SIGNED_REQUIRED)
        return params, None
    found = verify(token, params.get("client_id", ""), agency, issuer, now)
    return found.params, found


def verify(token: str, client_id: str, agency: Agency, issuer: str, now: datetime) -> RequestObject:
    """The request object ``token`` sent with ``client_id``, if ``agency`` signed
    it for ``issuer`` and it is valid at ``now``; else ``AuthorizationError``
    ``invalid_request_object``."""
    if not token or len(token) > MAX_SIZE or token.count(".") != 2:
        raise refused("request must be a signed JWT (JWS compact serialization)")
    try:
        header = jws.extract_compact(token.encode("ascii")).headers()
    except (JoseError, UnicodeError, ValueError):
        raise refused("request is not a valid signed JWT") from None
    alg = _check_header(header, agency)
    payload = _verified_payload(token, agency, alg, header.get("kid"))
    try:
        claims = json.loads(payload)
    except ValueError:
        raise refused("the request object's payload is not JSON") from None
    if not isinstance(claims, dict):
        raise refused("the request object's payload is not a JSON object")
    expires_at = _check_claims(claims, client_id, issuer, now)
    jti = claims.get("jti")
    if jti is not None and not (isinstance(jti, str) and 0 < len(jti) <= MAX_JTI):
        raise refused(f"jti must be a string of 1 to {MAX_JTI} characters")
    return RequestObject(_parameters(claims), jti, expires_at)


def reused() -> AuthorizationError:
    return refused("the request object was used before (jti)")


def algorithms_for(agency: Agency) -> tuple[str, ...]:
    """The algorithms ``agency``'s request objects may be signed with."""
    return SIGNING_ALGORITHMS if agency.profile == "standard" else ALGORITHMS


def _check_header(header: Mapping[str, Any], agency: Agency) -> str:
    alg = header.get("alg")
    if not isinstance(alg, str) or alg.lower() == "none":
        raise refused("the request object must be signed: alg 'none' is not accepted")
    if alg not in algorithms_for(agency):
        allowed = ", ".join(algorithms_for(agency))
        raise refused(f"alg {alg!r} is not accepted for request objects (use {allowed})")
    typ = header.get("typ")
    if typ is not None and (not isinstance(typ, str) or typ.lower() not in _TYPES):
        raise refused(f"typ must be {TYP!r}")
    if "crit" in header:
        raise refused("no critical header parameter (crit) is supported")
    return alg


def _candidates(agency: Agency, alg: str, kid: Any) -> Iterator[ECKey | RSAKey]:
    """The agency's keys that may have signed with ``alg`` (and ``kid``, if named)."""
    if not agency.jwks:
        return
    try:
        keys = key_set(agency.jwks).keys
    except (JoseError, ValueError, TypeError, KeyError):
        return  # registration checks the set; one that cannot be read verifies nothing
    for key in keys:
        if not isinstance(key, ECKey | RSAKey) or key.key_type != _KEY_TYPES[alg]:
            continue
        if kid is not None and key.kid != kid:
            continue
        if key.get("use") not in (None, "sig"):
            continue
        if key.alg is not None and key.alg != alg:
            continue
        if alg == LEGACY_ALGORITHM and key.alg != LEGACY_ALGORITHM:
            continue  # RS256 only with a key registered for it
        yield key


def _verified_payload(token: str, agency: Agency, alg: str, kid: Any) -> bytes:
    matched = False
    for key in _candidates(agency, alg, kid):
        matched = True
        try:
            return jws.deserialize_compact(token, key, algorithms=[alg]).payload
        except JoseError:
            continue  # a wrong curve or a bad signature: maybe another key
    if not matched:
        named = f" with kid {kid!r}" if isinstance(kid, str) else ""
        raise refused(f"the client has no registered key{named} for alg {alg}")
    raise refused("the request object's signature does not verify with the client's keys")


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise refused(f"{name} must be a number of seconds since the epoch")
    return float(value)


def _check_claims(
    claims: Mapping[str, Any], client_id: str, issuer: str, now: datetime
) -> datetime:
    if claims.get("client_id") != client_id:
        raise refused("client_id in the request object must equal the client_id parameter")
    aud = claims.get("aud")
    if not (aud == issuer or (isinstance(aud, list) and issuer in aud)):
        raise refused(f"aud must be the issuer ({issuer})")
    if claims.get("iss") != client_id:
        raise refused("iss must be the client_id")
    if "request" in claims or "request_uri" in claims:
        raise refused("a request object cannot contain request or request_uri")
    exp, nbf, iat = (_number(claims, name) for name in ("exp", "nbf", "iat"))
    if exp is None:
        raise refused("exp is required")
    moment = now.timestamp()
    leeway = LEEWAY.total_seconds()
    if exp <= moment - leeway:
        raise refused("the request object has expired")
    if nbf is not None and nbf > moment + leeway:
        raise refused("the request object is not valid yet (nbf is in the future)")
    if iat is not None and iat > moment + leeway:
        raise refused("iat is in the future")
    start = nbf if nbf is not None else iat if iat is not None else moment
    if exp - start > MAX_LIFETIME.total_seconds():
        raise refused("the request object is valid for more than 60 minutes (exp - nbf)")
    return datetime.fromtimestamp(exp + leeway, tz=UTC)


def _parameters(claims: Mapping[str, Any]) -> dict[str, str]:
    """The claims as authorization request parameters: strings as they are,
    integers (``max_age``) as digits, objects (``claims``) as JSON."""
    params: dict[str, str] = {}
    for name, value in claims.items():
        if name in _JWT_CLAIMS:
            continue
        if isinstance(value, str):
            params[name] = value
        elif isinstance(value, int) and not isinstance(value, bool):
            params[name] = str(value)
        elif isinstance(value, dict):
            params[name] = json.dumps(value)
        else:
            raise refused(f"{name} in the request object must be a string")
    return params
