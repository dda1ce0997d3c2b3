"""The page for a request refused because too many password hashes are running
in this process (``work_gate.Busy``): 503 with ``Retry-After``, in the
citizen's language, so the citizen simply tries again."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response

from services.identity.web import texts
from services.identity.web.flow_pages import FlowPages
from services.runtime.work_gate import Busy


def busy_page(flow: FlowPages) -> Callable[[Request, Exception], Awaitable[Response]]:
    async def answer(request: Request, refused: Exception) -> Response:
        retry_after = refused.retry_after if isinstance(refused, Busy) else 1
        language = flow.language(request)
        response = flow.render(
            request,
            "error.html",
            language,
            status_code=503,
            message=flow.pages.gettext(language, texts.BUSY),
        )
        response.headers["Retry-After"] = str(retry_after)
        return response

    return answer
