"""Two inputs the authorization request's rules let through before mutation testing's
review: a PKCE challenge with a trailing newline (``$`` matches before it) and a
``max_age`` of non-ASCII digits (``str.isdigit`` takes "²", ``int`` does not)."""

from __future__ import annotations

import pytest

from services.identity.domain.authorization import AuthorizationError
from tests.unit.identity.test_authorization_request_rules import CHALLENGE, params, parse


@pytest.mark.parametrize("challenge", [CHALLENGE + "\n", "\n" + CHALLENGE, CHALLENGE[:42] + "\n"])
def test_a_challenge_with_a_line_break_is_refused(challenge: str) -> None:
    with pytest.raises(AuthorizationError) as refused:
        parse(params(code_challenge=challenge))
    assert (refused.value.error, refused.value.description) == (
        "invalid_request",
        "code_challenge is not an S256 challenge",
    )


@pytest.mark.parametrize("raw", ["²", "1²", "١٢٣", "３６００"])
def test_a_max_age_of_other_digits_is_refused_not_a_crash(raw: str) -> None:
    with pytest.raises(AuthorizationError) as refused:
        parse(params(max_age=raw))
    assert (refused.value.error, refused.value.description) == (
        "invalid_request",
        "max_age must be a non-negative integer",
    )
