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

from tests.council_app import signed_in_subject
from tests.forms import submit
from tests.openid_ida.certified_provider import certified_provider
from tests.openid_ida.conftest import IDA_CLIENT_ID, openid_ida_settings


def sign_in(stack, choice: str | None = None, browser: requests.Session | None = None):
    """Council app → broker → the stub provider's chooser → broker → council app."""
    browser = browser or requests.Session()
    home = browser.get(stack.council_url, timeout=10)
    chooser = submit(browser, home)  # "Sign in" → /authorize → 302 to the provider
    assert chooser.url.startswith(stack.provider_url), chooser.url
    return submit(browser, chooser, "choose", **({"choice": choice} if choice else {}))


def test_a_resident_signs_in_and_the_council_app_shows_the_verified_name(ida_stack):
    page = sign_in(ida_stack)

    assert page.status_code == 200
    assert "Jane Doe" in page.text and "1980-05-01" in page.text and "LEVEL_2" in page.text
    assert signed_in_subject(page)


def test_a_low_verification_signs_in_at_level_1(ida_stack):
    page = sign_in(ida_stack, "lee")

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
        login = submit(browser, browser.get(stack.council_url, timeout=10))
        assert login.url.startswith(found["issuer"]), login.url
        consent = submit(browser, login, login="jane", password="any password")
        page = submit(browser, consent)

    assert "Jane Doe" in page.text and "LEVEL_2" in page.text
    assert signed_in_subject(page) != "jane"
