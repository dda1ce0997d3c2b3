"""GaaP's client library for agency backends.

- ``GaapClient``: typed gRPC stubs of identity, payments and notify with tokens,
  deadlines, idempotency keys, retries and typed errors (``gaap_client.errors``).
- ``TokenSource`` with ``ClientSecret`` or ``PrivateKeyJwt``: agency access tokens,
  cached and renewed before expiry.
- ``OpenIdClient``: citizen sign-in (code flow, PKCE, local ID-token validation;
  ``fapi2=True`` for the FAPI 2.0 profile: PAR, ``private_key_jwt``, DPoP).
- ``DpopKey``, ``DpopAuth``: DPoP proofs (RFC 9449) for your own HTTP calls.
- ``verify_signature``: payments' webhooks and notify's status callbacks.
"""

from gaap_client.calls import NO_RETRIES, RetryPolicy
from gaap_client.client import GaapClient, Targets
from gaap_client.credentials import ClientSecret, Credentials, PrivateKeyJwt
from gaap_client.dpop import DpopKey, DpopNonces
from gaap_client.dpop_http import DpopAuth
from gaap_client.errors import FieldViolation, GaapError
from gaap_client.signin import OpenIdClient, PendingSignIn, Refreshed, SignedIn, SignInError
from gaap_client.tokens import TokenError, TokenSource
from gaap_client.webhooks import (
    SIGNATURE_HEADER,
    InvalidSignature,
    is_valid_signature,
    verify_signature,
)

__all__ = [
    "NO_RETRIES",
    "SIGNATURE_HEADER",
    "ClientSecret",
    "Credentials",
    "DpopAuth",
    "DpopKey",
    "DpopNonces",
    "FieldViolation",
    "GaapClient",
    "GaapError",
    "InvalidSignature",
    "OpenIdClient",
    "PendingSignIn",
    "PrivateKeyJwt",
    "Refreshed",
    "RetryPolicy",
    "SignInError",
    "SignedIn",
    "Targets",
    "TokenError",
    "TokenSource",
    "is_valid_signature",
    "verify_signature",
]
