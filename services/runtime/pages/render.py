"""Jinja2 rendering with autoescaping and gettext, and the browser session."""

from __future__ import annotations

import secrets
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2
from babel import numbers
from starlette.requests import Request
from starlette.responses import HTMLResponse

from services.runtime.pages.i18n import Catalogue

TOOLKIT_TEMPLATES = Path(__file__).parent / "templates"
TOOLKIT_LOCALES = Path(__file__).parent / "locales"
SESSION_COOKIE = "gaap_session"
LANGUAGE_COOKIE = "gaap_lang"


@dataclass(frozen=True)
class FieldError:
    """One invalid field: ``field`` is the input's ``id``; the message is already
    in the page's language."""

    field: str
    message: str


class Pages:
    """A service's page renderer: its templates over the toolkit's base layout,
    and its catalogue merged over the toolkit's."""

    def __init__(
        self, templates: Path, locales: Path, languages: Sequence[str] = ("en", "zh-Hans")
    ) -> None:
        self.catalogue = Catalogue(languages, [TOOLKIT_LOCALES, locales])
        self._environments: dict[str, jinja2.Environment] = {}
        loader = jinja2.ChoiceLoader(
            [
                jinja2.FileSystemLoader(str(templates)),
                jinja2.PrefixLoader({"pages": jinja2.FileSystemLoader(str(TOOLKIT_TEMPLATES))}),
            ]
        )
        for tag in languages:
            env = jinja2.Environment(
                loader=loader,
                autoescape=True,
                extensions=["jinja2.ext.i18n"],
                undefined=jinja2.StrictUndefined,
            )
            env.install_gettext_translations(  # type: ignore[attr-defined]
                self.catalogue.translations(tag), newstyle=True
            )
            env.filters["money"] = _money_filter(self.catalogue.babel_locale(tag))
            self._environments[tag] = env

    @property
    def languages(self) -> tuple[str, ...]:
        return self.catalogue.languages

    def gettext(self, language: str, message: str) -> str:
        return self.catalogue.gettext(language, message)

    def render(
        self,
        template: str,
        language: str,
        *,
        status_code: int = 200,
        headers: Mapping[str, str] | None = None,
        **context: Any,
    ) -> HTMLResponse:
        env = self._environments.get(language) or self._environments[self.catalogue.default]
        html = env.get_template(template).render(
            language=language, languages=self.languages, **context
        )
        response = HTMLResponse(html, status_code=status_code, headers=dict(headers or {}))
        # Pages carry CSRF tokens and payment details: never cache them.
        response.headers["cache-control"] = "no-store"
        return response


def _money_filter(locale: str) -> Any:
    def money(amount_and_currency: tuple[str, str]) -> str:
        major, currency = amount_and_currency
        return str(numbers.format_currency(major, currency, locale=locale))

    return money


def browser_session(request: Request) -> tuple[str, bool]:
    """The browser's session id (an opaque random value in a cookie), and
    whether it is new (the caller must then set the cookie)."""
    current = request.cookies.get(SESSION_COOKIE, "")
    if 20 <= len(current) <= 64 and current.replace("-", "").replace("_", "").isalnum():
        return current, False
    return secrets.token_urlsafe(24), True


def set_session_cookie(response: HTMLResponse | Any, session: str, *, secure: bool) -> None:
    response.set_cookie(
        SESSION_COOKIE, session, httponly=True, samesite="lax", secure=secure, path="/"
    )


def set_language_cookie(response: Any, language: str, *, secure: bool) -> None:
    response.set_cookie(
        LANGUAGE_COOKIE,
        language,
        max_age=365 * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=secure,
        path="/",
    )
