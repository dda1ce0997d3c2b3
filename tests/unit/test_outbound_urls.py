"""The one URL parser (services/runtime/urls.py) and the one address guard
(services/runtime/egress.py) that every outbound target goes through."""

from __future__ import annotations

from ipaddress import IPv4Address, IPv4Network, IPv6Address, ip_address

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from services.runtime import urls
from services.runtime.config import PlatformSettings
from services.runtime.egress import LOOPBACK, PUBLIC_ONLY, Egress, EgressRefused, parse_networks
from services.runtime.errors import InvalidArgument

# -- the URL rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "host", "port"),
    [
        ("https://hooks.agency.example/payments", "hooks.agency.example", 443),
        ("https://hooks.agency.example:8443/a/b?c=d&e=%20", "hooks.agency.example", 8443),
        ("https://Bücher.Example/hook", "xn--bcher-kva.example", 443),
        ("HTTPS://HOOKS.EXAMPLE/", "hooks.example", 443),
        ("http://localhost:3000/cb", "localhost", 3000),
        ("http://127.0.0.1:8080/cb", "127.0.0.1", 8080),
        ("http://[::1]:9000/cb", "::1", 9000),
        ("https://8.8.8.8/hook", "8.8.8.8", 443),
    ],
)
def test_good_urls_are_kept_with_an_ascii_host(url: str, host: str, port: int) -> None:
    parsed = urls.parse(url)
    assert (parsed.host, parsed.port, parsed.text) == (host, port, url)


@pytest.mark.parametrize(
    ("url", "says"),
    [
        ("https://a..example/hook", "empty label"),
        ("https://.example/hook", "empty label"),
        ("https://example.com./hook", "empty label"),
        ("https://" + "a" * 64 + ".example/", "too long"),
        ("https://" + ".".join(["a" * 63] * 4) + "/", "too long"),
        ("https://under_score.example/", "not valid"),
        ("https://-lead.example/", "not valid"),
        ("https://[::1", "not a valid URL"),
        ("https://[::1]x/", "nothing may follow"),
        ("https://[fe80::1%25eth0]/", "zone"),
        ("https://[not-v6]/", "IPv6"),
        ("https://2130706433/", "neither"),
        ("https://127.1/", "neither"),
        ("https://0x7f.0.0.1/", "neither"),
        ("https://010.0.0.1/", "neither"),
        ("https://hooks.example:0/", "port"),
        ("https://hooks.example:65536/", "port"),
        ("https://hooks.example:+80/", "port"),
        ("https://hooks.example:/", "port"),
        ("https://user:pw@hooks.example/", "credentials"),
        ("https://hooks.example@evil.example/", "credentials"),
        ("https://hooks.example/a b", "spaces"),
        ("https://hooks.example/\x00", "control"),
        ("https://hooks.example/é", "percent-encoded"),
        ("https://hooks.example/%zz", "percent-encoded"),
        ("https://hooks.example/a\\b", "percent-encoded"),
        ("https://hooks.example/#frag", "fragment"),
        ("http://hooks.example/", "https"),
        ("http://localhost.evil.example/", "https"),
        ("ftp://hooks.example/", "https"),
        ("javascript:alert(1)", "https"),
        ("https:/hooks.example/", "https"),
        ("//hooks.example/", "https"),
        ("https:///no-host", "host"),
        ("", "required"),
        ("https://hooks.example/" + "a" * 2000, "2000"),
    ],
)
def test_bad_urls_say_why(url: str, says: str) -> None:
    with pytest.raises(urls.UrlError) as caught:
        urls.parse(url)
    assert says.lower() in str(caught.value).lower()


def test_a_fragment_and_plain_http_only_where_the_caller_allows_them() -> None:
    assert urls.parse("https://a.example/back#top", fragment=True).host == "a.example"
    assert urls.parse("http://sms-sink:8090/messages", http="any").port == 8090


URL_ALPHABET = st.sampled_from(
    [
        *"abcxyz019-._~:/?#[]@!$&'()*+,;=% \\\"<>^`{|}\x00\x7féü。．",
        *("https://", "http://", "[::1]", "..", "xn--", "%41", ":443", "@", "0x7f"),
    ]
)


@given(st.lists(URL_ALPHABET, max_size=30).map("".join))
def test_the_parser_only_ever_says_no_with_a_url_error(text: str) -> None:
    # And what it accepts, the HTTP client can send: no UnicodeError, no
    # InvalidURL halfway through a delivery run.
    try:
        parsed = urls.parse(text, fragment=True)
    except urls.UrlError:
        return
    request = httpx.Request("POST", parsed.text)
    assert request.url.port in (None, parsed.port)
    if parsed.address is None:
        # What the resolver is handed: the codec that raised mid-batch before.
        request.url.raw_host.decode("ascii").encode("idna")


@given(st.from_regex(r"https://[a-z0-9.\-]{0,70}(:[0-9]{1,6})?/[a-z]{0,5}", fullmatch=True))
def test_hostnames_that_pass_are_ones_a_resolver_takes(text: str) -> None:
    try:
        parsed = urls.parse(text)
    except urls.UrlError:
        return
    if parsed.address is None:
        labels = parsed.host.split(".")
        assert len(parsed.host) <= 253
        assert all(0 < len(label) <= 63 for label in labels)
        assert not labels[-1].isdigit()
    assert 0 < parsed.port < 65536
    httpx.Request("POST", parsed.text).url.raw_host.decode("ascii").encode("idna")


# -- the address guard ------------------------------------------------------------------

REFUSED = [
    "169.254.169.254",
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "127.0.0.1",
    "127.255.255.254",
    "0.0.0.0",  # noqa: S104 - an address refused, not bound
    "100.64.0.1",
    "100.127.255.254",
    "224.0.0.1",
    "239.255.255.250",
    "240.0.0.1",
    "255.255.255.255",
    "192.0.2.1",
    "198.18.0.1",
    "::1",
    "::",
    "fe80::1",
    "fc00::1",
    "fd12:3456::1",
    "ff02::1",
    "::ffff:127.0.0.1",
    "::ffff:169.254.169.254",
    "::ffff:10.0.0.1",
    "2002:7f00:1::1",  # 6to4 of 127.0.0.1
    "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
    "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
    "64:ff9b::7f00:1",
    "2001:0:4136:e378:8000:63bf:3fff:fdd2",  # Teredo
    "::7f00:1",  # IPv4-compatible
    "2001:db8::1",
]


@pytest.mark.parametrize("address", REFUSED)
def test_internal_addresses_are_refused(address: str) -> None:
    assert PUBLIC_ONLY.refusal(ip_address(address)) is not None
    with pytest.raises(EgressRefused):
        PUBLIC_ONLY.resolve(address, 443)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "::ffff:8.8.8.8", "2002:808:808::1"]
)
def test_public_addresses_pass(address: str) -> None:
    assert PUBLIC_ONLY.refusal(ip_address(address)) is None


INTERNAL_V4 = [
    IPv4Network(n)
    for n in (
        "0.0.0.0/8",
        "10.0.0.0/8",
        "100.64.0.0/10",
        "127.0.0.0/8",
        "169.254.0.0/16",
        "172.16.0.0/12",
        "192.168.0.0/16",
        "224.0.0.0/4",
        "240.0.0.0/4",
    )
]


@st.composite
def internal_v4(draw: st.DrawFn) -> IPv4Address:
    net = draw(st.sampled_from(INTERNAL_V4))
    return IPv4Address(draw(st.integers(int(net.network_address), int(net.broadcast_address))))


@given(internal_v4())
def test_every_internal_ipv4_address_is_refused_in_every_ipv6_disguise(v4: IPv4Address) -> None:
    packed = int(v4)
    for form in (
        v4,
        IPv6Address((0xFFFF << 32) | packed),  # ::ffff:a.b.c.d
        IPv6Address((0x2002 << 112) | (packed << 80)),  # 6to4
        IPv6Address((0x64FF9B << 96) | packed),  # NAT64
    ):
        assert PUBLIC_ONLY.refusal(form) is not None, form


@given(st.integers(0, 2**32 - 1).map(IPv4Address))
def test_an_ipv4_address_and_its_mapped_form_are_judged_alike(v4: IPv4Address) -> None:
    mapped = IPv6Address((0xFFFF << 32) | int(v4))
    assert (PUBLIC_ONLY.refusal(v4) is None) == (PUBLIC_ONLY.refusal(mapped) is None)


def test_the_operators_allowance_lets_only_its_ranges_through() -> None:
    loopback = Egress.from_setting(LOOPBACK)
    assert loopback.refusal(ip_address("127.0.0.1")) is None
    assert loopback.refusal(ip_address("::1")) is None
    assert loopback.refusal(ip_address("::ffff:127.0.0.1")) is None
    assert loopback.refusal(ip_address("10.0.0.1")) is not None
    assert loopback.refusal(ip_address("169.254.169.254")) is not None


def test_a_name_is_refused_if_any_address_it_resolves_to_is() -> None:
    mixed = Egress(resolver=lambda host, port: ["93.184.215.14", "10.0.0.7"])
    with pytest.raises(EgressRefused, match="private"):
        mixed.resolve("hooks.example", 443)
    public = Egress(resolver=lambda host, port: ["93.184.215.14", "2606:2800:21f::1"])
    assert [str(a) for a in public.resolve("hooks.example", 443)] == [
        "93.184.215.14",
        "2606:2800:21f::1",
    ]

    def unknown(host: str, port: int) -> list[str]:
        raise OSError("Name or service not known")

    with pytest.raises(EgressRefused, match="does not resolve"):
        Egress(resolver=unknown).resolve("nowhere.example", 443)


def test_an_ip_literal_target_is_refused_at_registration_unless_allowed() -> None:
    with pytest.raises(InvalidArgument) as caught:
        urls.require_target("url", "https://169.254.169.254/latest/meta-data", PUBLIC_ONLY)
    assert caught.value.violations[0].field == "url"
    urls.require_target("url", "http://127.0.0.1:9000/hook", Egress.from_setting(LOOPBACK))
    # A name passes registration: what it resolves to is checked on every connection.
    urls.require_target("url", "https://localhost/hook", PUBLIC_ONLY)


def test_the_setting_takes_cidrs_and_refuses_anything_else() -> None:
    assert [str(n) for n in parse_networks(" 127.0.0.0/8 , ::1/128 ,")] == [
        "127.0.0.0/8",
        "::1/128",
    ]
    assert PlatformSettings().egress == PUBLIC_ONLY
    for bad in ("10.0.0.1/8", "localhost", "10.0.0.0/33"):
        with pytest.raises(ValueError, match="allow_private_targets"):
            PlatformSettings(allow_private_targets=bad)
