"""The demo app reads its agency file either way ``make run`` may have written
it: under the fapi2 profile (private key, kid, issuer, the replicas' shared DPoP
key) or with a client secret; anything else stops it at start-up."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from gaap_client import ClientSecret, DpopKey, PrivateKeyJwt
from services.demo_app.bootstrap import _agency
from services.runtime.errors import StartupError


def _pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


def _write(tmp_path: Path, data: dict[str, str]) -> Path:
    path = tmp_path / "agency.json"
    path.write_text(json.dumps(data))
    return path


def test_a_fapi2_agency_file(tmp_path: Path) -> None:
    dpop = DpopKey.generate()
    private_key = _pem()
    agency = _agency(
        _write(
            tmp_path,
            {
                "client_id": "ag_1",
                "profile": "fapi2",
                "issuer": "http://127.0.0.1:8081",
                "token_endpoint": "http://127.0.0.1:8081/oauth2/token",
                "kid": "demo-1",
                "algorithm": "ES256",
                "private_key": private_key,
                "dpop_private_key": dpop.to_pem(),
            },
        )
    )
    assert agency.fapi2
    assert isinstance(agency.credentials, PrivateKeyJwt)
    assert (agency.credentials.client_id, agency.credentials.kid) == ("ag_1", "demo-1")
    assert agency.dpop_key is not None
    assert agency.dpop_key.thumbprint == dpop.thumbprint  # every replica the same key
    assert agency.secret == private_key.encode()


def test_a_client_secret_agency_file(tmp_path: Path) -> None:
    agency = _agency(
        _write(
            tmp_path,
            {"client_id": "ag_2", "client_secret": "s3cret", "token_endpoint": "http://x/token"},
        )
    )
    assert not agency.fapi2
    assert agency.credentials == ClientSecret("ag_2", "s3cret")
    assert agency.dpop_key is None
    assert agency.secret == b"s3cret"


@pytest.mark.parametrize(
    "data",
    [
        {"client_id": "ag_3", "token_endpoint": "http://x/token"},  # neither secret nor key
        {"client_id": "ag_3", "private_key": "not a PEM", "kid": "k", "token_endpoint": "t"},
        {"client_id": "ag_3", "client_secret": "s", "token_endpoint": "t", "dpop_private_key": "x"},
    ],
)
def test_an_unusable_agency_file_stops_the_start(tmp_path: Path, data: dict[str, str]) -> None:
    with pytest.raises(StartupError, match="cannot read the agency's credentials"):
        _agency(_write(tmp_path, data))
