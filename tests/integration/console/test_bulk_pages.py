"""Sending to a list and finding notifications against real identity and notify,
on SQLite and PostgreSQL: a 1,000-row CSV with 3 bad rows shows those 3 (row,
column, problem) and a preview, sends the other 997 once however often the form
is sent, and the worker hands all 997 to the SMTP sink; the search finds one
recipient; a viewer is refused an upload by the server."""

from __future__ import annotations

import io
import re
from collections.abc import Iterator
from html import unescape

import httpx
import pytest
from openpyxl import Workbook

from tests.integration.console.test_console import forged_post, invite_and_accept
from tests.integration.console.test_notify_pages import new_template
from tests.integration.notify.support import SmtpServer, run_worker, worker_settings
from tests.support.console import Console, running_console, sign_in, sign_up
from tests.support.journey import post_form
from tests.support.platform import Platform, running_platform

pytestmark = pytest.mark.slow
_CSRF = re.compile(r'action="/uploads/[^"]+".*?name="csrf_token" value="([^"]+)"', re.S)
_UPLOAD = re.compile(r"/teams/team_[0-9a-f]+/uploads/(upl_[A-Za-z0-9_-]+)$")
_BULK = re.compile(r"/bulk-sends/(bulk_[A-Za-z0-9_-]+)$")
BAD = {101: "not-an-address", 502: "two@@example.com", 903: ""}  # data row -> recipient


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


def listing() -> bytes:
    lines = ["\ufeffEmail address,Name,REF"]
    for n in range(1, 1001):
        recipient = BAD.get(n, f"person{n}@example.com")
        lines.append(f'{recipient},"Person {n}, Esq.",R-{n}')
    return ("\r\n".join(lines) + "\r\n").encode()


def upload(
    client: httpx.Client, console: Console, team: str, template: str, data: bytes
) -> httpx.Response:
    form = client.get(f"{console.url}/teams/{team}/upload")
    assert form.status_code == 200, form.text[:800]
    token = _CSRF.search(form.text)
    assert token, form.text[:800]
    return client.post(
        f"{console.url}/uploads/{team}",
        data={"csrf_token": unescape(token.group(1)), "template": template},
        files={"file": ("people.csv", data, "text/csv")},
    )


def test_a_list_with_bad_rows_is_checked_sent_once_delivered_and_found(
    console: Console, platform: Platform, database_url: str
) -> None:
    with httpx.Client(timeout=60) as admin:
        sign_in(admin, console.url, console.person("ada"))
        team, _ = sign_up(admin, console.url, "Parks Agency")
        home = admin.get(f"{console.url}/teams/{team}")
        for path in ("/upload", "/notifications"):
            assert f'href="/teams/{team}{path}"' in home.text
        template = new_template(admin, console, team, "email")

        uploaded = upload(admin, console, team, template, listing())
        assert uploaded.status_code == 303, uploaded.text[:800]
        found = _UPLOAD.search(uploaded.headers["location"])
        assert found, uploaded.headers["location"]
        check = admin.get(console.url + uploaded.headers["location"])
        assert check.status_code == 200, check.text[:800]
        assert 'id="good-rows">997<' in check.text
        assert 'id="bad-rows">3<' in check.text
        rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]+)</td>", check.text)
        # file lines: the header is line 1, so data row n is line n + 1
        assert rows == [
            ("102", "email address"),
            ("503", "email address"),
            ("904", "email address"),
        ]
        assert "Hello Person 1, Esq., your permit R-1 is ready." in unescape(check.text)
        assert "Send 997 messages" in check.text

        sent = post_form(admin, check, "/send")
        again = post_form(admin, check, "/send")  # a double submit
        assert sent.status_code == again.status_code == 303, sent.text[:800]
        assert sent.headers["location"] == again.headers["location"]
        bulk = _BULK.search(sent.headers["location"])
        assert bulk, sent.headers["location"]
        progress = admin.get(console.url + sent.headers["location"])
        assert 'id="total">997<' in progress.text
        assert 'id="pending">997<' in progress.text
        # the sent upload now leads to its bulk send: its rows are gone
        revisited = admin.get(console.url + uploaded.headers["location"])
        assert revisited.headers["location"].endswith(bulk.group(1))

        smtp = SmtpServer().start()
        try:
            worker = worker_settings(
                database_url,
                smtp.port,
                "http://127.0.0.1:9",
                "http://127.0.0.1:9",
                deliver_test_mode=True,
            )
            run_worker(platform, worker)
            delivered = sorted(str(m["To"]) for m in smtp.handler.messages)
        finally:
            smtp.stop()
        assert len(delivered) == 997
        assert "person1000@example.com" in delivered
        assert all(bad not in delivered for bad in BAD.values())
        progress = admin.get(console.url + sent.headers["location"])
        assert 'id="delivered">997<' in progress.text

        search = admin.get(
            f"{console.url}/teams/{team}/notifications",
            params={"recipient": " person500@EXAMPLE.com "},
        )
        assert search.status_code == 200, search.text[:800]
        links = re.findall(rf'href="/teams/{team}/notifications/(ntf_[^"]+)"', search.text)
        assert len(links) == 1
        assert "person500@example.com" in search.text  # the domain as notify normalised it
        one = admin.get(f"{console.url}/teams/{team}/notifications/{links[0]}")
        assert one.status_code == 200
        by_bulk = admin.get(
            f"{console.url}/teams/{team}/notifications", params={"bulk_send": bulk.group(1)}
        )
        assert 'href="?bulk_send=' in by_bulk.text.replace("&amp;", "&")  # a next page
        refused = admin.get(f"{console.url}/teams/{team}/notifications", params={"recipient": "12"})
        assert refused.status_code == 400
        assert 'href="#recipient"' in refused.text

        audit = admin.get(f"{console.url}/teams/{team}/audit").text
        for words in ("Uploaded a recipient list", "Sent messages to a list"):
            assert words in audit
        assert "person1@example.com" not in audit

        with httpx.Client(timeout=30) as viewer:
            invite_and_accept(console, admin, team, "viewer", viewer)
            assert viewer.get(f"{console.url}/teams/{team}/upload").status_code == 403
            token = console.running.web.csrf.issue(
                viewer.cookies["console_session"], f"/uploads/{team}"
            )
            denied = viewer.post(
                f"{console.url}/uploads/{team}",
                data={"csrf_token": token, "template": template},
                files={"file": ("x.csv", b"email address,name,ref\na@example.com,A,1\n")},
            )
            assert denied.status_code == 403
            assert (
                forged_post(
                    viewer, console, f"/teams/{team}/bulk-sends/{bulk.group(1)}/cancel"
                ).status_code
                == 403
            )
            assert viewer.get(console.url + sent.headers["location"]).status_code == 200


def test_a_workbook_is_read_and_other_files_are_refused_on_the_form(
    console: Console,
) -> None:
    with httpx.Client(timeout=30) as admin:
        sign_in(admin, console.url, console.person("bo"))
        team, _ = sign_up(admin, console.url, "Harbour Agency")
        template = new_template(admin, console, team, "email")
        refused = upload(admin, console, team, template, b"\x89PNG\r\n\x1a\n\x00\x00")
        assert refused.status_code == 400
        assert "The file must be CSV or an Excel workbook (.xlsx)" in refused.text
        assert 'href="#file"' in refused.text
        missing = upload(admin, console, team, template, b"email address,name\na@example.com,A\n")
        assert missing.status_code == 400
        assert "The file needs a column for each of: “ref”" in unescape(missing.text)
        book = Workbook()
        sheet = book.active
        assert sheet is not None
        for row in (["Email Address", "Name", "Ref"], ["xl@example.com", "Xl", 7]):
            sheet.append(row)
        data = io.BytesIO()
        book.save(data)
        workbook = upload(admin, console, team, template, data.getvalue())
        assert workbook.status_code == 303, workbook.text[:800]
        checked = admin.get(console.url + workbook.headers["location"])
        assert 'id="good-rows">1<' in checked.text
        assert "Hello Xl, your permit 7 is ready." in unescape(checked.text)
        forged = admin.post(  # no CSRF token: refused before the file is read
            f"{console.url}/uploads/{team}",
            data={"template": template},
            files={"file": ("x.csv", b"email address,name,ref\na@example.com,A,1\n")},
        )
        assert forged.status_code == 400
        assert "This page has expired" in forged.text
        too_big = admin.post(
            f"{console.url}/uploads/{team}",
            files={"file": ("big.csv", b"x" * (11 * 1024 * 1024), "text/csv")},
        )
        assert too_big.status_code == 413
