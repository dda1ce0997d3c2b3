"""Placeholders at their edges: long names, what ``find`` returns, British lists for
every English tag, unknown languages, and list values."""

from __future__ import annotations

import pytest

from services.notify.domain import placeholders
from services.notify.domain.placeholders import Placeholder


@pytest.mark.parametrize("length", [99, 100, 101, 300])
def test_names_of_any_length_are_normalised_alike(length: int) -> None:
    name = ("Ab_c-D e" * 60)[:length]
    expected = "".join(c for c in name if c not in " _-").lower()
    assert placeholders.normalise(name) == expected
    assert placeholders.normalise(f" {name}\t") == expected


def test_only_names_of_up_to_100_characters_are_kept_in_the_cache() -> None:
    cache = placeholders._normalise
    cache.cache_clear()
    placeholders.normalise("Q" * 100)
    assert cache.cache_info().currsize == 1
    placeholders.normalise("Q" * 101)
    placeholders.normalise("Q" * 5_000)
    assert cache.cache_info().currsize == 1


def test_find_returns_each_placeholder_with_its_condition() -> None:
    assert placeholders.find("((First Name??Dear)) ((b)) ((b)) ((c??)) (not)") == [
        Placeholder("firstname", "Dear"),
        Placeholder("b", None),
        Placeholder("b", None),
        Placeholder("c", ""),
    ]


@pytest.mark.parametrize(
    ("language", "expected"),
    [
        ("en", "a, b and c"),
        ("en-US", "a, b and c"),  # British lists for every English tag
        ("en-Latn-US", "a, b and c"),
        ("fr", "a, b et c"),
        ("fr-CA", "a, b et c"),
        ("xx-YY", "a, b and c"),  # unknown: British English
        ("", "a, b and c"),
        ("zh-Hans-CN", "a、b和c"),
    ],
)
def test_lists_are_joined_in_the_notifications_language(language: str, expected: str) -> None:
    assert placeholders.join_list(["a", "b", "c"], language) == expected
    assert placeholders.as_text(("a", "b", "c"), language) == expected


def test_a_text_value_is_kept_as_it_is() -> None:
    assert placeholders.as_text("a, b", "fr") == "a, b"
    assert placeholders.as_text(["a, b"], "fr") == "a, b"
    assert placeholders.as_text([], "en") == ""
