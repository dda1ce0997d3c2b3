"""Which language a page speaks, and the links that switch it.

The order: ``?lang=`` on the page, the language cookie, the agency's
``ui_locales`` hint, then the browser's Accept-Language.
"""

from __future__ import annotations

from urllib.parse import urlencode

from starlette.requests import Request

from services.identity.domain.authorization import AuthorizationRequest
from services.runtime.pages import choose_language
from services.runtime.pages.render import LANGUAGE_COOKIE

LABELS = {"en": "English", "zh-Hans": "中文"}


def page_language(
    request: Request,
    languages: tuple[str, ...],
    asked: AuthorizationRequest | None = None,
) -> str:
    hint = asked.ui_locales[0] if asked is not None and asked.ui_locales else None
    return choose_language(
        languages,
        explicit=request.query_params.get("lang"),
        cookie=request.cookies.get(LANGUAGE_COOKIE),
        hint=hint,
        accept_language=request.headers.get("accept-language"),
    )


def language_links(request: Request, languages: tuple[str, ...]) -> list[tuple[str, str, str]]:
    """(tag, label, this page's address in that language) for each language."""
    links = []
    for tag in languages:
        query = {k: v for k, v in request.query_params.items() if k != "lang"}
        query["lang"] = tag
        links.append((tag, LABELS.get(tag, tag), f"{request.url.path}?{urlencode(query)}"))
    return links
