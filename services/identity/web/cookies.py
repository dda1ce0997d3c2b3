"""The sign-in flow's cookies: the signed-in session and the browser's device id.

Both are HttpOnly and SameSite=Lax (the redirect back from an agency must carry
them), and Secure when the page is served over TLS.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response

SIGNIN_COOKIE = "gaap_signin"
DEVICE_COOKIE = "gaap_device"  # a long-lived id of the browser, for new-device alerts
DEVICE_DAYS = 400


def secure(request: Request) -> bool:
    """Cookies are Secure when the page is served over TLS (X-Forwarded-Proto
    counts from GAAP_TRUSTED_PROXIES only: services.runtime.client_address)."""
    return request.url.scheme == "https"


def set_signin_cookie(request: Request, response: Response, cookie: str) -> None:
    """The session cookie lasts as long as the browser: the session's own expiry
    is kept server-side."""
    response.set_cookie(
        SIGNIN_COOKIE,
        cookie,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path="/",
    )


def set_device_cookie(request: Request, response: Response, device: str) -> None:
    response.set_cookie(
        DEVICE_COOKIE,
        device,
        max_age=DEVICE_DAYS * 24 * 3600,
        httponly=True,
        samesite="lax",
        secure=secure(request),
        path="/",
    )
