"""identity refusing the console a token for a team's agency (gaap_client's
``TokenError``) is a 503 page saying the service is unavailable, not a 500."""

from __future__ import annotations

from typing import cast

from starlette.requests import Request
from starlette.responses import Response
from starlette.testclient import TestClient

from gaap_client import GaapClient
from gaap_client.tokens import TokenError
from services.console.service_layer.acting_for import ActingFor
from services.console.web.base import ConsoleWeb, Form
from services.runtime.http import build_app
from services.runtime.pages import CsrfTokens
from tests.fakes.console_acting import FakeAgencyCalls
from tests.unit.console.support import Console


def refused(request: Request, form: Form) -> Response:
    raise TokenError("invalid_dpop_proof", "this agency's access tokens must be bound")


def test_a_refused_agency_token_is_a_503_page() -> None:
    console = Console()
    acting: ActingFor[object] = ActingFor(console.uow, FakeAgencyCalls({}))
    web = ConsoleWeb(
        console.sign_in,
        console.teams,
        CsrfTokens(b"k" * 32),
        "http://testserver",
        cast("ActingFor[GaapClient]", acting),
    )
    client = TestClient(build_app([web.public("/refused", refused)]))
    page = client.get("/refused")
    assert page.status_code == 503
    assert "the service is unavailable" in page.text
    assert "must be bound" not in page.text
