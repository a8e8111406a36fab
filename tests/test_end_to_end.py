"""The whole sign-in over HTTP: council app → broker → stub hub → broker → council app."""

from __future__ import annotations

import requests

from tests.council_app import sign_in_through_the_hub as sign_in
from tests.forms import follow, submit


def test_resident_signs_in_and_council_app_shows_verified_name(stack):
    page = sign_in(stack)
    assert page.status_code == 200
    assert "Jane Doe" in page.text
    assert "1980-05-01" in page.text
    assert "LEVEL_2" in page.text


def test_non_latin_name_arrives_intact(stack):
    page = sign_in(stack, "dmitri")
    assert "Дмитрий Иванов" in page.text


def test_level_1_resident_is_refused_when_council_requires_level_2(stack):
    # The demo council app asks for LEVEL_1 via acr_values, but this client is configured for
    # LEVEL_2: a request can raise the configured level, never lower it.
    page = sign_in(stack, "lee")
    assert 'data-page="level-not-met"' in page.text


def test_level_1_resident_signs_in_where_the_council_accepts_level_1(stack_factory):
    stack = stack_factory(lambda _ports: {"clients.0.default_level": "LEVEL_1"})
    page = sign_in(stack, "lee")
    assert "LEVEL_1" in page.text


def test_signing_out_at_the_council_app_ends_the_broker_session_too(stack):
    browser = requests.Session()
    page = sign_in(stack, browser=browser)
    signed_out = submit(browser, page, "sign-out")
    assert signed_out.url.rstrip("/") == stack.council_url
    assert "Jane Doe" not in signed_out.text
    again = follow(browser, signed_out, "sign-in")  # "Sign in": the broker must go back to the hub
    assert 'id="hub-handoff"' in again.text
