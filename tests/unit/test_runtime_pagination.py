"""Opaque page tokens and page sizes for ``List`` methods (AIP-158)."""

from __future__ import annotations

import base64

import pytest

from services.runtime.errors import InvalidArgument
from services.runtime.pagination import (
    DEFAULT_PAGE_SIZE,
    MAX_PAGE_SIZE,
    Page,
    PageRequest,
    decode,
    encode,
)


@pytest.mark.parametrize(
    "key", ["ag_0123", "", "2025-06-01T12:00:00Z|pay_1", "ünïcødé ✓", "a/b+c=d", "x" * 1000]
)
def test_token_round_trip(key: str) -> None:
    token = encode(key)
    assert token
    assert "=" not in token  # URL-safe, unpadded
    assert decode(token) == key
    assert PageRequest.parse(10, token).after == key


def test_token_is_not_the_key_in_clear() -> None:
    assert "ag_0123" not in encode("ag_0123")


def test_empty_token_is_the_first_page() -> None:
    assert decode("") is None
    assert PageRequest.parse(0, "") == PageRequest(size=DEFAULT_PAGE_SIZE, after=None)


@pytest.mark.parametrize(
    "token",
    [
        "garbage",
        "!!!!",
        "====",
        "a",
        base64.urlsafe_b64encode(b"v2:ag_1").decode(),
        base64.urlsafe_b64encode(b"\xff\xfe\xfd").decode(),
        base64.urlsafe_b64encode(b"ag_1").decode(),
    ],
)
def test_garbage_token_is_invalid_argument_on_page_token(token: str) -> None:
    with pytest.raises(InvalidArgument) as info:
        PageRequest.parse(10, token)
    assert [v.field for v in info.value.violations] == ["page_token"]
    assert "page_token" in info.value.message


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        (0, DEFAULT_PAGE_SIZE),
        (1, 1),
        (DEFAULT_PAGE_SIZE, DEFAULT_PAGE_SIZE),
        (MAX_PAGE_SIZE, MAX_PAGE_SIZE),
    ],
)
def test_page_size_within_bounds(size: int, expected: int) -> None:
    assert PageRequest.parse(size, "").size == expected


@pytest.mark.parametrize("size", [-1, MAX_PAGE_SIZE + 1, 10**9])
def test_page_size_out_of_bounds_is_invalid_argument(size: int) -> None:
    with pytest.raises(InvalidArgument) as info:
        PageRequest.parse(size, "")
    assert [v.field for v in info.value.violations] == ["page_size"]
    assert str(MAX_PAGE_SIZE) in info.value.violations[0].description


def test_page_size_honours_a_custom_maximum() -> None:
    assert PageRequest.parse(20, "", maximum=20).size == 20
    with pytest.raises(InvalidArgument):
        PageRequest.parse(21, "", maximum=20)


def test_from_overfetch_with_a_next_page() -> None:
    found = ["a", "b", "c", "d"]
    page = Page.from_overfetch(found, 3, key=str.upper)
    assert list(page.items) == ["a", "b", "c"]
    assert page.next_page_token
    assert decode(page.next_page_token) == "C"  # the key of the last item shown


@pytest.mark.parametrize("found", [[], ["a"], ["a", "b", "c"]])
def test_from_overfetch_last_page_has_no_token(found: list[str]) -> None:
    page = Page.from_overfetch(found, 3, key=str)
    assert list(page.items) == found
    assert page.next_page_token == ""


def test_paging_through_a_listing_visits_every_item_once() -> None:
    everything = [f"ag_{i:03d}" for i in range(23)]

    def list_after(after: str | None, limit: int) -> list[str]:
        return [k for k in everything if after is None or k > after][:limit]

    seen: list[str] = []
    token = ""
    for _ in range(10):
        request = PageRequest.parse(5, token)
        page = Page.from_overfetch(list_after(request.after, request.size + 1), request.size, str)
        seen.extend(page.items)
        token = page.next_page_token
        if not token:
            break
    assert seen == everything
