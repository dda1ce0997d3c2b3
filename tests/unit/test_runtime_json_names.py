"""Field paths in a JSON request's own spelling (services/runtime/json_names.py)."""

from __future__ import annotations

from typing import Any, cast

import pytest
from gaap.identity.v1 import identity_pb2 as ipb
from gaap.notify.v1 import notify_pb2 as npb
from gaap.payments.v1 import payments_pb2 as ppb
from google.protobuf.descriptor import Descriptor
from google.protobuf.message import Message

from services.runtime.json_names import as_spelled, respell_message


def of(message: type[Message]) -> Descriptor:
    return cast(Descriptor, message.DESCRIPTOR)


@pytest.mark.parametrize(
    ("path", "body", "expected"),
    [
        ("return_url", {"returnUrl": "ftp://x"}, "returnUrl"),
        ("return_url", {"return_url": "ftp://x"}, "return_url"),
        ("return_url", {}, "returnUrl"),  # a missing field: the JSON name
        ("amount", {"amount": "0"}, "amount"),
        ("metadata.case_ref", {"metadata": {"case_ref": "x" * 200}}, "metadata.case_ref"),
    ],
)
def test_a_payment_request_s_fields(path: str, body: dict[str, Any], expected: str) -> None:
    assert as_spelled(path, of(ppb.CreatePaymentRequest), body) == expected


def test_nested_repeated_fields_follow_each_level_s_spelling() -> None:
    request = of(ipb.UpdateAgencyRequest)
    camel = {"agency": {"postLogoutRedirectUris": ["a", "b"]}}
    snake = {"agency": {"post_logout_redirect_uris": ["a", "b"]}}
    path = "agency.post_logout_redirect_uris[1]"
    assert as_spelled(path, request, camel) == "agency.postLogoutRedirectUris[1]"
    assert as_spelled(path, request, snake) == path


def test_a_map_key_is_kept_and_the_value_s_fields_renamed() -> None:
    request = of(npb.SendEmailRequest)
    body = {"personalisation": {"first_name": {"text": "Ada"}}}
    assert as_spelled("personalisation.first_name.text", request, body) == (
        "personalisation.first_name.text"
    )
    assert as_spelled("email_address", request, {"emailAddress": "x"}) == "emailAddress"


def test_what_is_not_a_field_stays_as_the_service_named_it() -> None:
    request = of(ipb.CreateAgencyRequest)
    assert as_spelled("jwks_json.keys[0].alg", request, {"jwksJson": "{}"}) == (
        "jwksJson.keys[0].alg"
    )
    assert as_spelled("--until", request, {}) == "--until"


def test_the_message_names_fields_as_renamed() -> None:
    message = "invalid request: check amount, return_url, captured_return_url"
    renamed = {"amount": "amount", "return_url": "returnUrl"}
    assert respell_message(message, renamed) == (
        "invalid request: check amount, returnUrl, captured_return_url"
    )
