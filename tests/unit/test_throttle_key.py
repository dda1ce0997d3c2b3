"""``client_address.throttle_key``: what per-address throttles count a client
under. An IPv6 client owns at least a /64 and could rotate through it, so the
/64 is the key; an IPv4-mapped IPv6 address is the IPv4 client it carries."""

from __future__ import annotations

import pytest

from services.runtime.client_address import throttle_key


@pytest.mark.parametrize(
    ("host", "key"),
    [
        ("203.0.113.7", "203.0.113.7"),
        ("2001:db8:1:2:3:4:5:6", "2001:db8:1:2::/64"),
        ("2001:db8:1:2::1", "2001:db8:1:2::/64"),
        ("2001:DB8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("::ffff:203.0.113.7", "203.0.113.7"),
        ("[2001:db8:1:2::9]:443", "2001:db8:1:2::/64"),
        ("203.0.113.7:5000", "203.0.113.7"),
        (None, "unknown"),
        ("", "unknown"),
        ("testclient", "testclient"),  # not an address (a test transport's name)
    ],
)
def test_the_key_of_an_address(host: str | None, key: str) -> None:
    assert throttle_key(host) == key


def test_two_addresses_in_one_64_share_a_key_and_neighbouring_64s_do_not() -> None:
    assert throttle_key("2001:db8:1:2::a") == throttle_key("2001:db8:1:2:8000::b")
    assert throttle_key("2001:db8:1:2::a") != throttle_key("2001:db8:1:3::a")
    assert throttle_key("203.0.113.7") != throttle_key("203.0.113.8")
