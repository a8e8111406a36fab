"""The whole sign-in with an OIDC4IDA provider upstream, over HTTP: council app → broker → stub
OpenID provider → broker → council app, as a browser without JavaScript does it; and the same
through npm's oidc-provider."""

from __future__ import annotations

import json
from contextlib import ExitStack
from urllib.parse import parse_qs, urlparse

import lxml.html
import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from tests.council_app import sign_in_through_openid_ida as sign_in
from tests.council_app import signed_in_subject
from tests.forms import follow, form_fields, submit
from tests.oidc_client import authorize, query, redeem
from tests.openid_ida.certified_provider import certified_provider
from tests.openid_ida.conftest import IDA_CLIENT_ID, openid_ida_settings


def test_a_resident_signs_in_and_the_council_app_shows_the_verified_name(ida_stack):
    page = sign_in(ida_stack)

    assert page.status_code == 200
    assert "Jane Doe" in page.text and "1980-05-01" in page.text and "LEVEL_2" in page.text
    assert signed_in_subject(page)


def test_a_low_verification_signs_in_at_level_1(ida_stack_factory):
    # A council whose configured floor is LEVEL_1 (a request can raise a floor, never lower it).
    stack = ida_stack_factory(lambda _ports: {"clients.0.default_level": "LEVEL_1"})
    page = sign_in(stack, "lee")

    assert "Lee One" in page.text and "LEVEL_1" in page.text


def test_the_subject_is_stable_and_not_the_providers_sub(ida_stack):
    first = signed_in_subject(sign_in(ida_stack))
    second = signed_in_subject(sign_in(ida_stack))

    assert first == second and "stub-ida" not in first


@pytest.mark.parametrize("choice, outcome, error", [
    ("access-denied", "cancelled", "access_denied"),
    ("not-proven", "not-proven", "access_denied"),
    ("unknown-framework", "not-proven", "access_denied"),
    ("fraud", "fraud", "access_denied"),
    ("server-error", "unavailable", "temporarily_unavailable"),
    ("temporarily-unavailable", "unavailable", "temporarily_unavailable"),
])
def test_each_failure_is_its_kind_with_a_way_back_to_the_council(ida_stack, choice, outcome,
                                                                 error):
    def answers() -> float:
        return next((sample.value for family in text_string_to_metric_families(
            requests.get(f"{ida_stack.broker_url}/metrics", timeout=10).text)
            for sample in family.samples if sample.name == "broker_upstream_answers_total"
            and sample.labels == {"upstream": "openid_ida", "outcome": outcome}), 0.0)

    before = answers()
    page = sign_in(ida_stack, choice)

    assert page.url.startswith(ida_stack.broker_url) and "Traceback" not in page.text
    back = lxml.html.fromstring(page.text).xpath('//a[@id="continue"]/@href')
    assert back and parse_qs(urlparse(back[0]).query)["error"] == [error]
    assert answers() == before + 1


def test_the_broker_publishes_its_private_key_jwt_keys(ida_stack):
    keys = requests.get(f"{ida_stack.broker_url}/openid-ida/jwks.json", timeout=10).json()["keys"]

    assert keys and all("d" not in key for key in keys)


def test_a_resident_signs_in_through_npms_oidc_provider(stack_factory, keys_dir):
    """The broker, unchanged, with a certified provider nobody here wrote as its upstream."""
    private = json.loads((keys_dir / "broker-openid-ida-client.jwk.json").read_text())
    public = {k: v for k, v in private.items() if k in ("kty", "n", "e", "kid")}
    with ExitStack() as running:
        found = {}

        def changes(ports):
            client = {"client_id": IDA_CLIENT_ID,
                      "redirect_uris": [f"{ports.url('broker')}/openid-ida/callback"],
                      "grant_types": ["authorization_code"], "response_types": ["code"],
                      "token_endpoint_auth_method": "private_key_jwt", "jwks": {"keys": [public]}}
            found["issuer"] = running.enter_context(certified_provider([client]))
            return openid_ida_settings(keys_dir, found["issuer"], claims=[
                "given_name", "family_name", "birth_family_name", "birthdate", "address"])

        stack = stack_factory(changes)
        browser = requests.Session()
        login = follow(browser, browser.get(stack.council_url, timeout=10), "sign-in")
        assert login.url.startswith(found["issuer"]), login.url
        consent = submit(browser, login, login="jane", password="any password")
        page = submit(browser, consent)

    assert "Jane Doe" in page.text and "LEVEL_2" in page.text
    assert signed_in_subject(page) != "jane"


def sign_in_for_code(stack, browser: requests.Session, choice: str = "jane"):
    """/authorize as the council app's client, the provider's answer and the broker's callback:
    the attempt and the authorization response's parameters."""
    attempt = authorize(stack, session=browser)
    assert attempt.response.status_code == 302, attempt.response.text
    chooser = browser.get(attempt.response.headers["Location"], timeout=10)
    _method, action, fields = form_fields(chooser.text, "choose")
    answer = browser.post(f"{stack.provider_url}{action}", data={**fields, "choice": choice},
                          allow_redirects=False, timeout=10)
    done = browser.get(answer.headers["Location"], allow_redirects=False, timeout=10)
    assert done.status_code == 302, done.text
    return attempt, query(done.headers["Location"])


def subject_of(stack, attempt, params) -> str:
    tokens = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    return requests.get(f"{stack.broker_url}/userinfo", timeout=10, headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).json()["sub"]


def test_a_second_sign_in_in_the_same_browser_is_single_sign_on_with_the_same_subject(ida_stack):
    browser = requests.Session()
    attempt, params = sign_in_for_code(ida_stack, browser)
    first = subject_of(ida_stack, attempt, params)
    again = authorize(ida_stack, session=browser)

    assert again.response.status_code == 302, again.response.text
    location = again.response.headers["Location"]
    assert location.startswith(f"{ida_stack.council_url}/callback")  # not sent to the provider
    assert subject_of(ida_stack, again, query(location)) == first


def test_the_provider_and_the_brokers_pages_are_welsh_for_a_welsh_resident(ida_stack):
    browser = requests.Session()
    browser.cookies.set("council_lang", "cy")
    chooser = follow(browser, browser.get(ida_stack.council_url, timeout=10), "sign-in")
    assert "ui_locales=cy" in chooser.url and '<html lang="cy"' in chooser.text
    failed = submit(browser, chooser, "choose", choice="not-proven")

    assert failed.url.startswith(ida_stack.broker_url) and '<html lang="cy"' in failed.text
