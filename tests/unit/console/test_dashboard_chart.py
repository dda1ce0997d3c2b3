"""The dashboard's SVG bar chart: nice ticks, bar heights for known data, an
empty week, one huge day, escaping, and what makes it accessible."""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest

from services.console.web.dashboard_chart import HEIGHT, TOP, Series, bar_chart, nice_top

PLOT = HEIGHT - TOP - 40
SVG = "{http://www.w3.org/2000/svg}"


def chart(values: list[int], other: list[int] | None = None, **words: str) -> ET.Element:
    series = [Series(words.get("name", "Taken"), values)]
    if other is not None:
        series.append(Series("Refunded", other, hatched=True))
    drawn = bar_chart(
        "c",
        title=words.get("title", "Payments"),
        description=words.get("description", "Per day"),
        labels=words.get("label", "Mon").split(",") * len(values)
        if "," not in words.get("label", "")
        else words["label"].split(","),
        series=series,
    )
    return ET.fromstring(str(drawn))  # noqa: S314 (our own output)


def heights(svg: ET.Element, series: int = 0) -> list[float]:
    return [
        float(r.get("height", ""))
        for r in svg.iter(f"{SVG}rect")
        if r.get("class") == "bar" and r.get("data-series") == str(series)
    ]


@pytest.mark.parametrize(
    ("largest", "top", "step"),
    [
        (0, 4, 1),
        (1, 4, 1),
        (4, 4, 1),
        (5, 8, 2),
        (7, 8, 2),
        (9, 20, 5),
        (37, 40, 10),
        (1001, 2000, 500),
    ],
)
def test_the_axis_ends_on_a_nice_number(largest: int, top: int, step: int) -> None:
    assert nice_top(largest) == (top, step)


def test_bars_are_as_high_as_their_share_of_the_axis() -> None:
    svg = chart([8, 4, 0, 2])  # axis 0..8
    assert heights(svg) == [PLOT, PLOT / 2, 0.0, PLOT / 4]


def test_an_empty_week_draws_no_bars_and_still_an_axis() -> None:
    svg = chart([0] * 7, [0] * 7)
    assert heights(svg) == [0.0] * 7
    assert heights(svg, 1) == [0.0] * 7
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert "4" in texts  # the axis's top


def test_one_huge_day_fits_and_the_others_stay_visible_as_numbers() -> None:
    svg = chart([1, 1_000_000, 3])
    found = heights(svg)
    assert max(found) <= PLOT
    top, _ = nice_top(1_000_000)
    assert top == 2_000_000
    assert found[1] == pytest.approx(PLOT / 2)
    texts = [t.text for t in svg.iter(f"{SVG}text")]
    assert {"1", "1000000", "3"} <= set(texts)


def test_text_is_escaped() -> None:
    drawn = str(
        bar_chart(
            "c",
            title="<script>alert(1)</script>",
            description='"&',
            labels=["<b>"],
            series=[Series("</text><script>", [1])],
        )
    )
    assert "<script>" not in drawn
    assert "&lt;script&gt;" in drawn
    assert "&lt;b&gt;" in drawn
    ET.fromstring(drawn)  # noqa: S314 (our own output): still well-formed


def test_it_is_an_image_with_a_title_and_description_and_patterns_not_colour_alone() -> None:
    svg = chart([1, 2], [2, 1], title="Payments", description="Bars per day")
    assert svg.get("role") == "img"
    assert svg.get("aria-labelledby") == "c-title c-desc"
    assert svg.find(f"{SVG}title").text == "Payments"  # type: ignore[union-attr]
    assert svg.find(f"{SVG}desc").text == "Bars per day"  # type: ignore[union-attr]
    fills = {r.get("fill") for r in svg.iter(f"{SVG}rect") if r.get("data-series") == "1"}
    assert fills == {"url(#c-hatch)"}
    legend = [t.text for t in svg.iter(f"{SVG}text")]
    assert "Taken" in legend
    assert "Refunded" in legend
    assert svg.get("viewBox") == "0 0 640 260"
