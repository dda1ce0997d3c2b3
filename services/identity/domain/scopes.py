"""The scopes the platform knows, and which service each one is for."""

from __future__ import annotations

from services.runtime.access_tokens import audience_for

AGENCY_SCOPES: dict[str, str] = {
    "payments:create": "create payments",
    "payments:read": "read payments, refunds and reports",
    "payments:refund": "refund payments",
    "notify:send": "send emails and text messages",
    "notify:templates": "manage message templates",
    "notify:read": "read notifications and their status",
    "identity:tokens": "introspect and revoke this agency's tokens, read user info",
}
OPERATOR_SCOPES: dict[str, str] = {
    "identity:agencies": "read and manage the agency registry (platform operators)",
    "identity:accounts": "look up, lock and unlock citizen accounts (platform operators)",
    "identity:audit": "read identity's security audit log (platform operators)",
    # Token exchange (RFC 8693) at the token endpoint: a token for any agency,
    # with an act claim naming this client (the agency console).
    "identity:act_for_agencies": "get tokens to act for any agency, within its own scopes "
    "(platform operators: the agency console)",
}
# What an agency may ask a citizen to share (OpenID Connect Core §5.4), plus
# offline_access for refresh tokens. Descriptions are shown on the consent page.
CITIZEN_SCOPES: dict[str, str] = {
    "openid": "confirm who you are when you sign in",
    "profile": "see your name",
    "email": "see your email address",
    "phone": "see your phone number",
    "address": "see your postal address",
    "offline_access": "keep access when you are not using the service",
}
KNOWN_SCOPES: dict[str, str] = {**AGENCY_SCOPES, **OPERATOR_SCOPES, **CITIZEN_SCOPES}


def is_service_scope(scope: str) -> bool:
    """Service scopes (``payments:read``) authorise calls to a GaaP service."""
    return ":" in scope


def service_of(scope: str) -> str:
    return scope.partition(":")[0]


def audiences_for(scopes: tuple[str, ...]) -> list[str]:
    """Each service a token's scopes reach is one of its audiences (RFC 9068 §3)."""
    services = sorted({service_of(s) for s in scopes if is_service_scope(s)})
    return [audience_for(s) for s in services]
