"""Item 6 of issue 24: broker cookies nobody else can plant.

An attacker who can set a cookie for the broker's host (a sibling subdomain sets one with
`Domain=` the parent domain; any plain-http response can set one too) takes their own sign-in
through the hub, stops after the ACS, plants their binding value (or their broker session) in a
victim's browser and sends the victim their continuation link: the victim would be signed in as
the attacker. Over https every broker cookie is `__Host-`-prefixed: a browser keeps such a cookie
only from the broker's own host over TLS, with `Secure`, `Path=/` and no `Domain`, and the broker
reads no other name. The planted cookies, which can only carry the plain names, are then useless.

The https deployment is driven through Flask's test client at an https base URL (its cookie jar
sends a `Domain=example.test` cookie to `broker.example.test`, as a browser does); the hub's
answers are real signed and encrypted Responses for each flow."""

from __future__ import annotations

import base64
import re
import secrets
from urllib.parse import parse_qs, urlparse

import lxml.html
import pytest
import requests

from tests import hub_messages
from tests.conftest import COUNCIL_CLIENT_ID
from tests.forms import form_fields
from tests.oidc_client import pkce_pair, sign_in

HOST = "broker.example.test"
BROKER = f"https://{HOST}"
SIBLING_DOMAIN = "example.test"  # what a sibling such as evil.example.test may set cookies for


@pytest.fixture
def https_stack(stack_factory):
    return stack_factory(lambda ports: {"issuer": BROKER,
                                        "saml.entity_id": f"{BROKER}/saml/metadata"})


class Browser:
    """One resident's browser at the https broker."""

    def __init__(self, stack):
        self.stack = stack
        self.client = stack.broker_app.test_client()

    def get(self, url: str, **kwargs):
        return self.client.get(url, base_url=BROKER, **kwargs)

    def post(self, url: str, **kwargs):
        return self.client.post(url, base_url=BROKER, **kwargs)

    def cookie(self, name: str) -> str | None:
        cookie = self.client.get_cookie(name, domain=HOST)
        return cookie.value if cookie else None

    def broker_cookie_value(self, base: str) -> str:
        """The value the broker gave this browser, under whichever name it used."""
        value = self.cookie(f"__Host-{base}") or self.cookie(base)
        assert value, f"the broker set no {base} cookie"
        return value

    def plant(self, name: str, value: str) -> None:
        """A cookie set by a sibling host for the whole parent domain."""
        self.client.set_cookie(name, value, domain=SIBLING_DOMAIN, origin_only=False)


def authorize(browser: Browser, **extra: str):
    _verifier, challenge = pkce_pair()
    params = {"response_type": "code", "client_id": COUNCIL_CLIENT_ID,
              "redirect_uri": f"{browser.stack.council_url}/callback",
              "scope": "openid profile", "state": secrets.token_urlsafe(8),
              "nonce": secrets.token_urlsafe(8), "code_challenge": challenge,
              "code_challenge_method": "S256", **extra}
    return browser.get("/authorize", query_string=params)


def hand_off(response) -> tuple[str, str]:
    """The AuthnRequest's ID and the RelayState of a hub hand-off page."""
    text = response.get_data(as_text=True)
    assert 'id="hub-handoff"' in text, text[:400]
    document = lxml.html.fromstring(text)
    saml_request = document.xpath('//input[@name="SAMLRequest"]/@value')[0]
    relay_state = document.xpath('//input[@name="RelayState"]/@value')[0]
    request_id = re.search(r'ID="([^"]+)"', base64.b64decode(saml_request).decode()).group(1)
    return request_id, relay_state


def through_the_hub(browser: Browser, identity: str) -> str:
    """A sign-in started in `browser` and answered by the hub; returns the continuation link the
    ACS redirects to, not yet followed."""
    request_id, relay_state = hand_off(authorize(browser))
    answer = hub_messages.success(browser.stack, request_id, identity)
    response = browser.post("/saml/acs", data={"SAMLResponse": answer, "RelayState": relay_state})
    assert response.status_code == 303, response.get_data(as_text=True)[:400]
    return response.headers["Location"]


def code_in(response) -> bool:
    location = response.headers.get("Location", "")
    return "code" in parse_qs(urlparse(location).query)


def signed_in(browser: Browser, identity: str = "jane"):
    response = browser.get(through_the_hub(browser, identity))
    assert response.status_code == 302 and code_in(response), response.get_data(as_text=True)[:400]
    return response


def set_cookies(response) -> dict[str, str]:
    """Each cookie the response sets: name -> the rest of its Set-Cookie line."""
    found = {}
    for line in response.headers.getlist("Set-Cookie"):
        name, _, rest = line.partition("=")
        found[name] = rest
    return found


# The attacks

@pytest.mark.parametrize("victim_started_a_sign_in", [False, True])
def test_a_planted_binding_cookie_does_not_let_the_attackers_sign_in_finish_in_the_victims_browser(
        https_stack, victim_started_a_sign_in):
    attacker = Browser(https_stack)
    continuation = through_the_hub(attacker, "sam")
    binding = attacker.broker_cookie_value("broker_binding")
    victim = Browser(https_stack)
    victim.plant("broker_binding", binding)
    if victim_started_a_sign_in:  # the broker must not adopt the planted value either
        hand_off(authorize(victim))
    response = victim.get(continuation)
    assert not code_in(response), "the victim's browser was sent a code for the attacker"
    assert 'data-page="other-browser"' in response.get_data(as_text=True)
    assert not any("session" in name for name in set_cookies(response))
    assert victim.cookie("__Host-broker_session") is None


def test_a_planted_session_cookie_gives_the_victim_nobodys_session(https_stack):
    attacker = Browser(https_stack)
    signed_in(attacker, "sam")
    victim = Browser(https_stack)
    victim.plant("broker_session", attacker.broker_cookie_value("broker_session"))
    silent = authorize(victim, prompt="none")
    assert not code_in(silent), "single sign-on ran from the attacker's session"
    assert parse_qs(urlparse(silent.headers["Location"]).query)["error"] == ["login_required"]
    hand_off(authorize(victim))  # the victim goes to the hub, not into the attacker's session


def test_a_planted_session_cookie_does_not_end_the_attackers_or_anyone_elses_session(https_stack):
    """The victim's own sign-in never treats the planted id as the browser's session."""
    attacker = Browser(https_stack)
    signed_in(attacker, "sam")
    victim = Browser(https_stack)
    victim.plant("broker_session", attacker.broker_cookie_value("broker_session"))
    signed_in(victim, "jane")
    assert authorize(attacker, prompt="none").status_code == 302
    assert code_in(authorize(attacker, prompt="none")), "the attacker's session was ended"


# What an honest browser gets over https

def test_over_https_every_broker_cookie_is_host_prefixed_secure_and_http_only(https_stack):
    browser = Browser(https_stack)
    started = authorize(browser, ui_locales="cy")
    request_id, relay_state = hand_off(started)
    answer = hub_messages.success(https_stack, request_id, "jane")
    continuation = browser.post("/saml/acs", data={"SAMLResponse": answer,
                                                   "RelayState": relay_state})
    finished = browser.get(continuation.headers["Location"])
    assert code_in(finished)
    cookies = {**set_cookies(started), **set_cookies(continuation), **set_cookies(finished)}
    assert {"__Host-broker_binding", "__Host-broker_session", "__Host-broker_lang",
            "__Host-broker_council"} <= set(cookies), cookies
    for name, line in cookies.items():
        attributes = {part.strip().split("=")[0].lower() for part in line.split(";")[1:]}
        assert name.startswith("__Host-"), name
        assert {"secure", "httponly", "path"} <= attributes, (name, line)
        assert "domain" not in attributes, (name, line)
        assert "Path=/;" in line + ";", (name, line)
    assert "SameSite=Lax" in cookies["__Host-broker_binding"]
    assert "SameSite=Lax" in cookies["__Host-broker_session"]
    assert "SameSite=None" in cookies["__Host-broker_council"]


def test_two_sign_ins_in_two_tabs_of_one_browser_both_finish_over_https(https_stack):
    browser = Browser(https_stack)
    first = through_the_hub(browser, "jane")
    second = through_the_hub(browser, "jane")
    assert code_in(browser.get(first))
    assert code_in(browser.get(second))


def test_logout_over_https_deletes_the_host_prefixed_session_cookie(https_stack):
    browser = Browser(https_stack)
    signed_in(browser)
    session_cookie = browser.broker_cookie_value("broker_session")
    assert browser.cookie("__Host-broker_session") == session_cookie
    _method, action, fields = form_fields(browser.get("/logout").get_data(as_text=True))
    response = browser.post(action or "/logout", data=fields)
    assert response.status_code == 200
    assert "__Host-broker_session" in set_cookies(response)
    assert browser.cookie("__Host-broker_session") is None
    assert not code_in(authorize(browser, prompt="none"))


def test_over_plain_http_the_cookie_names_stay_plain(stack):
    """The demo and development run on http, where browsers refuse `__Host-` cookies."""
    browser = requests.Session()
    sign_in(stack, browser)
    names = {cookie.name for cookie in browser.cookies}
    assert {"broker_binding", "broker_session"} <= names
    assert not any(name.startswith("__Host-") for name in names)
    assert not any(cookie.secure for cookie in browser.cookies)

