"""gaap_client's retries are gRPC's own: the service config its channels carry,
and the pushback the platform's servers send with RESOURCE_EXHAUSTED."""

from __future__ import annotations

import json
import math

import grpc

from gaap_client import NO_RETRIES, RetryPolicy
from gaap_client.calls import RETRY_BUFFER_BYTES
from services.runtime.interceptors.errors import retry_pushback


def _options(policy: RetryPolicy) -> dict[str, object]:
    return dict(policy.channel_options())


def test_the_default_policy_retries_unavailable_and_resource_exhausted_on_every_method() -> None:
    options = _options(RetryPolicy())
    assert options["grpc.enable_retries"] == 1
    assert options["grpc.per_rpc_retry_buffer_size"] == RETRY_BUFFER_BYTES
    config = json.loads(str(options["grpc.service_config"]))
    [method] = config["methodConfig"]
    assert method["name"] == [{}]  # every service, every method
    assert method["retryPolicy"] == {
        "maxAttempts": 5,
        "initialBackoff": "0.1s",
        "maxBackoff": "5s",
        "backoffMultiplier": 2.0,
        "retryableStatusCodes": ["RESOURCE_EXHAUSTED", "UNAVAILABLE"],
    }


def test_a_policy_is_written_as_grpc_expects_it() -> None:
    policy = RetryPolicy(
        max_attempts=3,
        initial_backoff=0.25,
        max_backoff=1.5,
        multiplier=3,
        retry_codes=frozenset({grpc.StatusCode.UNAVAILABLE}),
    )
    retry = json.loads(str(_options(policy)["grpc.service_config"]))["methodConfig"][0]
    assert retry["retryPolicy"] == {
        "maxAttempts": 3,
        "initialBackoff": "0.25s",
        "maxBackoff": "1.5s",
        "backoffMultiplier": 3,
        "retryableStatusCodes": ["UNAVAILABLE"],
    }


def test_no_retries_turns_grpc_retries_off() -> None:
    options = _options(NO_RETRIES)
    assert options["grpc.enable_retries"] == 0
    config = json.loads(str(options["grpc.service_config"]))
    assert "retryPolicy" not in config["methodConfig"][0]
    no_codes = RetryPolicy(retry_codes=frozenset())
    assert _options(no_codes)["grpc.enable_retries"] == 0


def test_the_server_pushes_back_what_retry_info_says_in_milliseconds() -> None:
    assert retry_pushback(2.5, time_remaining=None) == "2500"
    assert retry_pushback(0.0004, time_remaining=10) == "1"  # rounded up, never sooner
    assert retry_pushback(0, time_remaining=10) == "0"


def test_the_server_says_do_not_retry_when_the_wait_outlasts_the_callers_deadline() -> None:
    assert retry_pushback(12, time_remaining=10) == "-1"
    assert retry_pushback(10, time_remaining=10) == "-1"
    assert retry_pushback(math.inf, time_remaining=None) == "-1"  # a cost over the burst
