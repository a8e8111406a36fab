"""Every page a resident can meet, with what happened and what to do next.

One catalogue, so that every failure has its own clear page and no handler improvises wording.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass

from authlib.integrations.flask_oauth2.errors import _HTTPException as OAuthHTTPException
from flask import Flask, render_template
from werkzeug.exceptions import HTTPException

from broker.state import StateUnavailable

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Page:
    title: str
    what_happened: str
    what_next: str
    status: int


PAGES = {
    "cancelled": Page(
        "You cancelled signing in",
        "You chose not to prove your identity, so you have not been signed in.",
        "You can go back to the council service and start again whenever you are ready.", 200),
    "authn-failed": Page(
        "We could not verify your identity",
        "The identity provider could not confirm who you are.",
        "Go back to the council service to try again, or contact the council to use the "
        "service another way.", 200),
    "loa-pending": Page(
        "Your identity is still being checked",
        "Your identity provider has not finished checking your identity.",
        "Try again once they have told you it is ready.", 200),
    "level-not-met": Page(
        "You need a higher level of identity check",
        "This service needs a stronger check of your identity than the one you completed.",
        "Go back to the council service and sign in again with a stronger identity check.", 200),
    "no-passive": Page(
        "You need to sign in",
        "You are not signed in, and this service asked us not to ask you to sign in.",
        "Go back to the council service and choose to sign in.", 200),
    "hub-error": Page(
        "Sorry, there is a problem with the identity service",
        "The national identity service could not complete your sign-in.",
        "Try again later. Go back to the council service to start again.", 502),
    "rejected": Page(
        "Sorry, we could not check your sign-in",
        "The answer we received from the identity service could not be trusted, so you have "
        "not been signed in.",
        "Go back to the council service and start again.", 400),
    "session-expired": Page(
        "Your sign-in has expired or is not recognised",
        "This can happen if you used the back button, waited too long, or opened the page in "
        "another tab.",
        "Go back to the council service and start signing in again.", 400),
    "invalid-request": Page(
        "Sorry, this sign-in link is not valid",
        "The council service sent a request we cannot accept.",
        "Go back to the council service and try again. If it happens again, contact the "
        "council.", 400),
    "unavailable": Page(
        "Sorry, the service is unavailable",
        "Part of the sign-in service is not working at the moment.",
        "Try again in a few minutes.", 503),
    "not-found": Page(
        "Page not found",
        "The page you asked for does not exist.",
        "Check the address, or go back to the council service.", 404),
    "too-large": Page(
        "Sorry, that request was too large",
        "We received more data than a sign-in needs.",
        "Go back to the council service and start again.", 413),
    "error": Page(
        "Sorry, there is a problem with the service",
        "Something went wrong on our side.",
        "Try again later. If you contact us, give the reference number below.", 500),
}


def render_page(name: str, continue_url: str | None = None, service_name: str | None = None,
                reference: str | None = None, status: int | None = None):
    page = PAGES[name]
    body = render_template("problem.html", page=page, name=name, continue_url=continue_url,
                           service_name=service_name, reference=reference)
    return body, status or page.status, {"Cache-Control": "no-store"}


def register_error_pages(app: Flask) -> None:
    @app.errorhandler(404)
    def not_found(_exc):
        return render_page("not-found")

    @app.errorhandler(413)
    def too_large(_exc):
        return render_page("too-large")

    @app.errorhandler(StateUnavailable)
    def state_unavailable(exc):
        log.error("flow state unavailable: %s", exc)
        return render_page("unavailable")

    @app.errorhandler(HTTPException)
    def http_error(exc: HTTPException):
        if isinstance(exc, OAuthHTTPException):
            return exc.get_response()  # a standard OAuth error for a council app, not a page
        if exc.code and exc.code < 500:
            return render_page("invalid-request", status=exc.code)
        return render_page("unavailable", status=exc.code)

    @app.errorhandler(Exception)
    def unexpected(exc: Exception):
        reference = secrets.token_hex(4).upper()
        log.exception("unexpected error, reference %s", reference)
        return render_page("error", reference=reference)
