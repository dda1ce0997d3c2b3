"""A small toolkit for server-rendered citizen pages, shared by the services.

- ``i18n``: gettext catalogues compiled from ``.po`` files when first used (no
  build step), and the page language: an explicit parameter, then the language
  cookie, then the service's hint, then ``Accept-Language``.
- ``csrf``: signed per-session, per-form tokens, checked in constant time.
- ``render``: Jinja2 with autoescaping and the accessible base layout
  (``pages/base.html``, macros in ``pages/forms.html``): labels tied to fields, an
  error summary linking to each field, no JavaScript.
"""

from services.runtime.pages.csrf import CsrfTokens
from services.runtime.pages.i18n import Catalogue, choose_language
from services.runtime.pages.render import FieldError, Pages, browser_session

__all__ = ["Catalogue", "CsrfTokens", "FieldError", "Pages", "browser_session", "choose_language"]
