"""Pushed authorization requests' domain rules, word for word: the OAuth error and
description of each refusal (agencies read them), the longest request_uri, and the
instant a push expires."""

from __future__ import annotations

import base64
import hashlib
from datetime import datetime, timedelta

import pytest

from services.identity.domain.agencies import Agency, register
from services.identity.domain.authorization import AuthorizationError, AuthorizationRequest
from services.identity.domain.pushed_requests import (
    MAX_REQUEST_URI,
    URN_PREFIX,
    StoredPush,
    check_request_uri,
    parse_push,
    taken,
)

REDIRECT = "https://rp.example.gov.uk/callback"


def agency(now: datetime) -> Agency:
    return register(
        name="Parking", scopes=["openid", "email"], redirect_uris=[REDIRECT], now=now
    ).agency


def params(**extra: str) -> dict[str, str]:
    challenge = base64.urlsafe_b64encode(hashlib.sha256(b"v" * 43).digest()).decode()
    return {
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": "openid email",
        "code_challenge": challenge.rstrip("="),
        "code_challenge_method": "S256",
        **extra,
    }


def refusal(call: object) -> tuple[str, str, bool]:
    assert callable(call)
    with pytest.raises(AuthorizationError) as caught:
        call()
    return caught.value.error, caught.value.description, caught.value.redirectable


def push(now: datetime) -> tuple[Agency, AuthorizationRequest]:
    registered = agency(now)
    return registered, parse_push(params(), registered)


def test_a_push_naming_a_request_uri_is_an_invalid_request(now: datetime) -> None:
    pushed = params(request_uri=URN_PREFIX + "x")
    assert refusal(lambda: parse_push(pushed, agency(now))) == (
        "invalid_request",
        "request_uri cannot be pushed",
        True,
    )


def test_a_request_uri_of_the_longest_length_is_looked_up_and_longer_is_refused() -> None:
    longest = URN_PREFIX + "a" * (MAX_REQUEST_URI - len(URN_PREFIX))
    assert len(longest) == 200
    check_request_uri(longest)
    assert refusal(lambda: check_request_uri(longest + "a")) == (
        "invalid_request",
        "request_uri is not valid",
        False,
    )
    assert refusal(lambda: check_request_uri("urn:other:" + "a" * 20))[1] == (
        "request_uri is not valid"
    )


def test_a_push_is_taken_until_the_instant_it_expires(now: datetime) -> None:
    registered, request = push(now)
    stored = StoredPush(registered.client_id, request, expires_at=now + timedelta(seconds=60))
    assert taken(stored, registered.client_id, now + timedelta(seconds=59)) == request
    at_expiry = now + timedelta(seconds=60)
    assert refusal(lambda: taken(stored, registered.client_id, at_expiry)) == (
        "invalid_request",
        "request_uri has expired",
        False,
    )


@pytest.mark.parametrize("whose", ["missing", "another agency's"])
def test_an_unknown_or_another_agencys_push_is_refused_on_the_page(
    now: datetime, whose: str
) -> None:
    registered, request = push(now)
    stored = StoredPush("ag_other", request, expires_at=now + timedelta(seconds=60))
    found = None if whose == "missing" else stored
    assert refusal(lambda: taken(found, registered.client_id, now)) == (
        "invalid_request",
        "request_uri is unknown or already used",
        False,
    )
