"""The console's dashboard against real identity, payments and notify, on SQLite
and PostgreSQL: a team sees its own week (another agency's payment is never
counted), the same numbers in the chart and the table, in both languages, and a
viewer sees it too while a stranger gets 404."""

from __future__ import annotations

import re
from collections.abc import Iterator

import httpx
import pytest

from tests.integration.console.test_console import invite_and_accept
from tests.integration.console.test_payment_pages import paid
from tests.support.console import Console, running_console, sign_in, sign_up
from tests.support.platform import Platform, running_platform

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def platform(database_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Platform]:
    with running_platform(database_url, tmp_path_factory.mktemp("var"), real_issuer=True) as p:
        yield p


@pytest.fixture(scope="module")
def console(
    platform: Platform, database_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Console]:
    with running_console(platform, database_url, tmp_path_factory.mktemp("console")) as running:
        yield running


def today_row(page: str, table: str) -> list[str]:
    """The last row (today) of one of the page's tables, its cells' text."""
    body = page.split(f'id="{table}"')[1].split("</table>", maxsplit=1)[0]
    last = body.split("<tr>")[-1]
    return [
        re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", last)
    ]


def test_a_team_sees_its_week_at_a_glance_and_a_stranger_does_not(
    console: Console, platform: Platform
) -> None:
    other = platform.secret_agency()
    paid(platform, other.client_id, other.client_secret, "OTHER-1")
    with (
        httpx.Client(timeout=30) as admin,
        httpx.Client(timeout=30) as viewer,
        httpx.Client(timeout=30) as stranger,
    ):
        sign_in(admin, console.url, console.person("ada"))
        team, secret = sign_up(admin, console.url, "Parks Agency")
        home = admin.get(f"{console.url}/teams/{team}").text
        agency_id = re.search(r"<code>(ag_[0-9a-f]+)</code>", home)
        assert agency_id, home[:800]
        links = re.findall(r'href="/teams/[^/"]+(/[a-z-]+)"', home)
        assert links[0] == "/dashboard"  # first on the team's home

        empty = admin.get(f"{console.url}/teams/{team}/dashboard")
        assert empty.status_code == 200, empty.text[:800]
        assert 'id="nothing-needs-attention"' in empty.text
        assert today_row(empty.text, "payments-by-day")[1:] == ["0", "0", "0", "0"]

        paid(platform, agency_id.group(1), secret, "PARKS-1")
        paid(platform, agency_id.group(1), secret, "PARKS-2")
        page = admin.get(f"{console.url}/teams/{team}/dashboard")
        assert page.status_code == 200
        # Two of 10.50 GBP; the other agency's payment is not counted.
        assert today_row(page.text, "payments-by-day")[1:] == ["2", "£21.00", "0", "0"]
        chart = re.search(r'<svg[^>]*id="payments-chart"[^>]*>(.*?)</svg>', page.text, re.DOTALL)
        assert chart, page.text[:800]
        assert 'role="img"' in chart.group(0)
        assert '<title id="payments-chart-title">' in chart.group(1)
        assert '<desc id="payments-chart-desc">' in chart.group(1)

        chinese = admin.get(f"{console.url}/teams/{team}/dashboard?lang=zh-Hans")
        assert "最近 7 天的收款和退款" in chinese.text
        assert today_row(chinese.text, "payments-by-day")[2] == "£21.00"

        invite_and_accept(console, admin, team, "viewer", viewer)
        assert viewer.get(f"{console.url}/teams/{team}/dashboard").status_code == 200

        sign_in(stranger, console.url, console.person("eve"))
        assert stranger.get(f"{console.url}/teams/{team}/dashboard").status_code == 404
