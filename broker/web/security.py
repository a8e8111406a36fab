"""Security headers and cookie settings shared by the broker and the development tools.

- Content-Security-Policy with a fresh nonce per request (`g.csp_nonce`) and no 'unsafe-inline':
  every inline script (GOV.UK Frontend's `js-enabled` line, the auto-submitting hand-off) carries
  the nonce; `'self'` lets GOV.UK Frontend's module import itself.
- `frame-ancestors 'none'` (no clickjacking of a sign-in), `Referrer-Policy: no-referrer` (URLs
  carry OAuth `state` and flow tokens), HSTS whenever the request came over TLS.
- Cookies are HttpOnly, `__Host-`-prefixed and Secure when the service is public over HTTPS
  (broker/web/cookies.py), and SameSite=Lax. Lax is enough because nothing the hub's cross-site
  POST needs lives in a cookie: the flow id travels as RelayState and the flow keeps its language.
  No cookie holds identity data.
"""

from __future__ import annotations

import secrets

from flask import Flask, g, request

from broker.web.cookies import install_cookies

HSTS = "max-age=31536000; includeSubDomains"


def content_security_policy(nonce: str, form_action: str) -> str:
    return ("default-src 'self'; "
            f"script-src 'self' 'nonce-{nonce}'; "
            "style-src 'self'; img-src 'self'; font-src 'self'; object-src 'none'; "
            f"form-action {form_action}; frame-ancestors 'none'; base-uri 'none'")


def install_security(app: Flask, *, secure_cookies: bool, form_action: str = "'self'") -> None:
    """`form_action` names where this app's forms (and the redirects after them) may go."""
    app.config.update(SESSION_COOKIE_HTTPONLY=True, SESSION_COOKIE_SECURE=secure_cookies,
                      SESSION_COOKIE_SAMESITE="Lax")
    install_cookies(app, secure=secure_cookies)

    @app.before_request
    def csp_nonce() -> None:
        g.csp_nonce = secrets.token_urlsafe(16)

    @app.after_request
    def security_headers(response):
        if "csp_nonce" not in g:  # a response made before any before_request ran
            g.csp_nonce = secrets.token_urlsafe(16)
        response.headers.setdefault("Content-Security-Policy",
                                    content_security_policy(g.csp_nonce, form_action))
        response.headers.setdefault("X-Content-Type-Options", "nosniff")
        response.headers.setdefault("Referrer-Policy", "no-referrer")
        if request.is_secure:
            response.headers.setdefault("Strict-Transport-Security", HSTS)
        return response
