"""Staff sessions: a new session at sign-in (a planted cookie is worthless),
sessions end, sign-out forgets, only local paths after sign-in, operators by
verified email."""

from __future__ import annotations

import pytest

from services.console.domain.sessions import SignInFailed
from services.console.service_layer.signing_in import local_path
from tests.unit.console.support import OPERATOR, Console, staff


def test_signing_in_replaces_the_session_so_a_planted_cookie_is_worthless() -> None:
    console = Console()
    console.identity.next_staff = staff("ada")
    planted, url = console.sign_in.start("en", "/teams/x")
    assert url.startswith("https://identity.test/")
    fresh, next_path = console.sign_in.finish(planted, {"state": "1"})
    assert fresh != planted
    assert next_path == "/teams/x"
    assert console.sign_in.staff(planted) is None
    signed_in = console.sign_in.staff(fresh)
    assert signed_in is not None
    assert (signed_in.subject, signed_in.operator) == ("sub-ada", False)


def test_a_wrong_state_or_no_sign_in_started_signs_nobody_in() -> None:
    console = Console()
    console.identity.next_staff = staff("ada")
    cookie, _ = console.sign_in.start("en", "/")
    with pytest.raises(SignInFailed):
        console.sign_in.finish(cookie, {"state": "2"})
    with pytest.raises(SignInFailed):
        console.sign_in.finish("A" * 43, {"state": "1"})
    assert console.sign_in.staff(cookie) is None


def test_a_session_ends_after_eight_hours_and_at_sign_out() -> None:
    console = Console()
    console.identity.next_staff = staff("ada")
    cookie, _ = console.sign_in.start("en", "/")
    session, _ = console.sign_in.finish(cookie, {"state": "1"})
    console.clock.advance(hours=8, seconds=-1)
    assert console.sign_in.staff(session) is not None
    console.clock.advance(seconds=1)
    assert console.sign_in.staff(session) is None

    cookie, _ = console.sign_in.start("en", "/")
    session, _ = console.sign_in.finish(cookie, {"state": "2"})
    assert console.sign_in.sign_out(session) == "id-token-sub-ada"
    assert console.sign_in.staff(session) is None
    assert console.sign_in.sign_out(session) == ""


def test_operators_are_named_by_verified_email_only() -> None:
    console = Console()
    operator = staff("op")
    console.identity.next_staff = type(operator)("sub-op", OPERATOR, True, "Op")
    cookie, _ = console.sign_in.start("en", "/")
    session, _ = console.sign_in.finish(cookie, {"state": "1"})
    found = console.sign_in.staff(session)
    assert found is not None
    assert found.operator
    console.identity.next_staff = type(operator)("sub-op2", OPERATOR, False, "Op")
    cookie, _ = console.sign_in.start("en", "/")
    session, _ = console.sign_in.finish(cookie, {"state": "2"})
    found = console.sign_in.staff(session)
    assert found is not None
    assert not found.operator


@pytest.mark.parametrize(
    ("raw", "path"),
    [
        ("/teams/x", "/teams/x"),
        ("//evil.example/", "/"),
        ("/\\evil.example", "/"),
        ("https://evil.example/", "/"),
        ("", "/"),
        ("/a\nb", "/"),
    ],
)
def test_after_sign_in_only_a_path_on_the_console(raw: str, path: str) -> None:
    assert local_path(raw) == path


def test_ended_sessions_are_forgotten_when_the_next_sign_in_starts() -> None:
    console = Console()
    console.identity.next_staff = staff("ada")
    cookie, _ = console.sign_in.start("en", "/")
    console.sign_in.finish(cookie, {"state": "1"})
    assert len(console.work.sessions.rows) == 1
    console.clock.advance(hours=8)
    console.sign_in.start("en", "/")
    [left] = console.work.sessions.rows.values()
    assert left.staff is None, "only the new, pending session is left"
