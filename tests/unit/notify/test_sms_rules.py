"""SMS length: encodings, fragment boundaries, downgrading and the 918 limit."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from services.notify.domain import sms
from services.notify.domain.templates import Content, Template, render
from services.runtime.errors import InvalidArgument


@pytest.mark.parametrize(
    ("length", "fragments"),
    [(1, 1), (160, 1), (161, 2), (306, 2), (307, 3), (459, 3), (460, 4), (918, 6)],
)
def test_gsm7_fragments_at_each_boundary(length: int, fragments: int) -> None:
    measured = sms.measure("a" * length)
    assert (measured.encoding, measured.fragments) == ("GSM-7", fragments)


@pytest.mark.parametrize(("length", "fragments"), [(70, 1), (71, 2), (134, 2), (135, 3)])
def test_ucs2_fragments_at_each_boundary(length: int, fragments: int) -> None:
    measured = sms.measure("你" * length)
    assert (measured.encoding, measured.fragments) == ("UCS-2", fragments)


def test_extension_characters_count_twice() -> None:
    assert sms.measure("€" * 80).fragments == 1
    assert sms.measure("€" * 81).fragments == 2  # 162 septets
    assert sms.measure("[" * 80 + "a").units == 161


def test_close_matches_are_downgraded_to_gsm7() -> None:
    measured = sms.measure("\u201cHi\u201d \u2013 it\u2019s caf\u00e9\u2026 \u00e1")
    assert measured.encoding == "GSM-7"
    assert measured.text == '"Hi" - it\'s café... a'  # é is GSM-7 already, á is not


def test_something_without_a_match_sends_everything_unchanged_as_ucs2() -> None:
    measured = sms.measure("Café ☃")
    assert measured.encoding == "UCS-2"
    assert measured.text == "Café ☃"


def test_emoji_take_two_ucs2_units() -> None:
    assert sms.measure("😀" * 35).units == 70
    assert sms.measure("😀" * 35).fragments == 1
    assert sms.measure("😀" * 36).fragments == 2


def test_at_most_918_characters_after_personalisation() -> None:
    now = datetime(2025, 1, 1, tzinfo=UTC)
    t = Template("t", "a", 1, "sms", "n", (Content("en", "", "((x))"),), now, now)
    assert render(t, {"x": "a" * 918}).fragments == 6
    with pytest.raises(InvalidArgument):
        render(t, {"x": "a" * 919})
