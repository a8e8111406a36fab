"""The broker's cookies: every name and attribute in one place.

Over https each name carries the `__Host-` prefix (RFC 6265bis section 4.1.3.2): a browser keeps
such a cookie only when this very host set it over TLS, `Secure`, with `Path=/` and no `Domain`.
A sibling subdomain (a `Domain=` cookie for the parent domain) or a forged plain-http response
can then plant nothing the broker reads, since it reads only the prefixed names (issue 24,
docs/adr/0012-flows-bound-to-the-browser.md). Browsers refuse `__Host-` cookies over plain http,
so the demo and development keep the plain names: there a network attacker sees everything
anyway.

Every broker cookie is `HttpOnly` and holds no identity data:
- `broker_binding`: the browser binding of a sign-in (Lax, ends with the browser session);
- `broker_session`: the opaque id of the broker session (Lax);
- `broker_lang`: the resident's language choice (Lax);
- `broker_council`: the id of the last council a resident started from (None over https, so
  that the hub's cross-site POST brings it to the "expired" page);

Flask's own session cookie is never read or set: `NoFlaskSession` replaces Flask's session, so
a request does not open (verify and decode) a cookie the broker has no use for.
"""

from __future__ import annotations

from dataclasses import dataclass

from flask import Flask, current_app, request
from flask.sessions import SessionInterface

HOST_PREFIX = "__Host-"
BINDING = "broker_binding"
SESSION = "broker_session"
LANGUAGE = "broker_lang"
COUNCIL = "broker_council"


@dataclass(frozen=True)
class CookieJar:
    """The cookies of one app: `__Host-` names and `Secure` when it is served over https."""

    secure: bool

    def name(self, base: str) -> str:
        return f"{HOST_PREFIX}{base}" if self.secure else base

    def get(self, base: str) -> str | None:
        """This request's value of the cookie, under its own name only."""
        return request.cookies.get(self.name(base))

    def set(self, response, base: str, value: str, *, max_age: int | None = None,
            samesite: str = "Lax") -> None:
        response.set_cookie(self.name(base), value, max_age=max_age, path="/", domain=None,
                            secure=self.secure, httponly=True, samesite=samesite)

    def delete(self, response, base: str, *, samesite: str = "Lax") -> None:
        response.delete_cookie(self.name(base), path="/", domain=None, secure=self.secure,
                               httponly=True, samesite=samesite)


def install_cookies(app: Flask, *, secure: bool) -> CookieJar:
    jar = CookieJar(secure)
    app.extensions["cookie_jar"] = jar
    return jar


def cookies_of(app: Flask) -> CookieJar:
    return app.extensions["cookie_jar"]


def cookies() -> CookieJar:
    """The current app's cookies (the broker's, or a development tool's)."""
    return cookies_of(current_app)


class NoFlaskSession(SessionInterface):
    """Flask's session, switched off: nothing in the broker keeps state in a signed cookie
    (state lives in Redis, named by the cookies above). Flask then gives each request its
    read-only null session, and writing to `flask.session` raises instead of setting a cookie."""

    def open_session(self, app, request):  # noqa: ARG002 - Flask's interface
        return None

    def save_session(self, app, session, response):  # noqa: ARG002 - never called for None
        return None
