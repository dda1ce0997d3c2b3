"""Fixtures for the unit tests: real keys (generated once per session) and a fixed time.

Unit tests are pure: no network, no servers, no sleeps. Anything that needs time
takes an injected clock; anything that needs keys uses these real ones.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa


@pytest.fixture(scope="session")
def ec_private_key() -> ec.EllipticCurvePrivateKey:
    """An EC P-256 key: what identity signs ES256 access tokens with."""
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="session")
def rsa_private_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="session")
def other_rsa_private_key() -> rsa.RSAPrivateKey:
    """A second RSA key, for forgeries under someone else's ``kid``."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def now() -> datetime:
    """A fixed, timezone-aware instant for domain code that takes ``now``."""
    return datetime(2025, 6, 1, 12, 0, 0, tzinfo=UTC)
