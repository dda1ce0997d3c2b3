"""Reading OAuth parameters, and the redirects the flow answers with."""

from __future__ import annotations

from collections.abc import Mapping
from urllib.parse import urlencode, urlsplit, urlunsplit

from starlette.requests import Request
from starlette.responses import RedirectResponse


async def parameters(request: Request) -> dict[str, str] | None:
    """Query (GET) or form (POST) parameters; a repeated parameter is invalid
    (RFC 6749 §3.1)."""
    if request.method == "POST":
        items = list((await request.form()).multi_items())
    else:
        items = list(request.query_params.multi_items())
    params: dict[str, str] = {}
    for key, value in items:
        if not isinstance(value, str) or key in params:
            return None
        params[key] = value
    return params


def with_query(uri: str, values: Mapping[str, str]) -> str:
    """``uri`` with ``values`` added to its query (the fragment dropped)."""
    parts = urlsplit(uri)
    query = parts.query + ("&" if parts.query and values else "") + urlencode(values)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def see_other(location: str) -> RedirectResponse:
    return RedirectResponse(location, status_code=303)
