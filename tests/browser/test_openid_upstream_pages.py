"""The broker's pages after an OpenID-style upstream (GOV.UK One Login, an OIDC4IDA provider),
reloaded in real Chromium (issue 26): the page the callback lands on (the extra question, a
failure page), the question's language switch, leave page and error state, the account question
and the no-record page. The callback is single-use (its `code`, its `state`), so each of them
must be at its own reusable address (ADR 23); after each reload the resident carries on to the
council app, signed in or with the council's error.

Each test starts a broker on the upstream's stub beside the usual stack; the council matches
through the council app's demo services, as in test_matching_pages.py."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis

from broker.devtools.council_app.matching import CYCLE3_DEMO_ANSWER
from broker.devtools.stub_onelogin.app import StubOneLoginConfig, create_stub_onelogin
from broker.devtools.stub_openid_ida.app import StubOpenIdIdaConfig, create_stub_openid_ida
from tests.browser.conftest import start_sign_in
from tests.browser.test_matching_pages import (
    QUESTION,
    demo_matching,
    reload,
    reload_the_question_and_its_leave_page,
)
from tests.conftest import Stack, _serve, free_port, start_stack, stop_stack
from tests.one_login.conftest import ONE_LOGIN_CLIENT_ID, one_login_settings
from tests.openid_ida.conftest import IDA_CLIENT_ID, openid_ida_settings

QUESTION_ADDRESS = re.compile(r"/matching/cycle3\?token=[^&]+$")
FAILURE_PAGE_ADDRESS = re.compile(r"/page/[^/?]+\?lang=(en|cy)$")
NOT_SIGNED_IN = {"en": "You have not been signed in", "cy": "Nid ydych wedi mewngofnodi"}


@dataclass(frozen=True)
class OpenIdUpstream:
    """One OpenID-style plug-in as these tests start it: its configuration, its stub and the
    broker's callback (the single-use step no page may be shown at)."""

    name: str
    settings: Callable[[Path, str], dict]  # (keys_dir, stub_url) → write_config overrides
    stub: Callable[[str, Stack], object]   # (stub_url, stack) → the stub's Flask app
    callback: str


def one_login_stub(url: str, stack: Stack):
    return create_stub_onelogin(StubOneLoginConfig(
        base_url=url, client_id=ONE_LOGIN_CLIENT_ID,
        redirect_uris=(stack.config.one_login_redirect_uri,),
        client_jwks_uri=f"{stack.broker_url}/onelogin/jwks.json"))


def openid_ida_stub(url: str, stack: Stack):
    return create_stub_openid_ida(StubOpenIdIdaConfig(
        base_url=url, client_id=IDA_CLIENT_ID,
        redirect_uris=(f"{stack.broker_url}/openid-ida/callback",),
        client_jwks_uri=f"{stack.broker_url}/openid-ida/jwks.json"))


UPSTREAMS = [
    OpenIdUpstream("one_login", one_login_settings, one_login_stub, "/onelogin/callback"),
    OpenIdUpstream("openid_ida", openid_ida_settings, openid_ida_stub, "/openid-ida/callback"),
]


@dataclass
class UpstreamStack:
    stack: Stack
    upstream: OpenIdUpstream
    stub_url: str

    def __getattr__(self, name):
        return getattr(self.stack, name)


@pytest.fixture(params=UPSTREAMS, ids=lambda upstream: upstream.name)
def stack(request, tmp_path_factory, keys_dir, redis_url) -> Iterator[UpstreamStack]:
    """A broker on the upstream's stub, per test (a fresh link store)."""
    upstream = request.param
    directory = tmp_path_factory.mktemp(f"browser-{upstream.name}")
    port = free_port()
    stub_url = f"http://127.0.0.1:{port}"
    stack, servers = start_stack(
        directory, keys_dir, redis_url, redis.Redis.from_url(redis_url),
        lambda ports: {**demo_matching(ports, directory), **upstream.settings(keys_dir, stub_url)},
        prefix_label=f"test-browser-{upstream.name}")
    stub = _serve(upstream.stub(stub_url, stack), port)
    yield UpstreamStack(stack, upstream, stub_url)
    stub.shutdown()
    stop_stack(stack, servers)


def through_the_upstream(resident, stack: UpstreamStack, choice: str, language: str = "en"):
    """From the council app's "Sign in" to the upstream stub's chooser, `choice` picked, and back
    through the broker's callback: the window, on the page the callback's 303 led to."""
    window = resident()
    start_sign_in(window, stack, language)
    page = window.page
    page.locator("form#choose").wait_for()
    assert page.url.startswith(stack.stub_url), page.url  # the upstream's own page
    page.locator(f"#choice-{choice}").check()
    page.locator("form#choose .govuk-button").click()
    page.wait_for_load_state("load")
    assert stack.upstream.callback not in page.url, "a page shown at the single-use callback"
    return window


def answer(window, value: str) -> None:
    window.page.locator("#answer").fill(value)
    window.page.locator("#continue").click()
    window.page.wait_for_load_state("load")


def test_reloading_every_page_after_the_callback_with_the_extra_question_carries_on(
        stack, resident):
    """The question (twice), its Welsh, the leave page, the error state and the account
    question, each reloaded; then the account is created and the council app signs in."""
    window = through_the_upstream(resident, stack, "dmitri")
    page = window.page
    assert QUESTION_ADDRESS.search(page.url), page.url
    window.inspect(f"broker-cycle3-after-{stack.upstream.name}", "en")
    reload_the_question_and_its_leave_page(window)

    posts = []
    answer(window, "12-AB")  # the error state, at the question's own address
    assert QUESTION_ADDRESS.search(page.url), page.url
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    reload(window, "cycle3", "cy")
    assert posts == [], "the reload posted the wrong answer again"
    assert page.locator(".govuk-error-summary").is_visible()
    assert page.title().startswith("Gwall:")
    assert page.locator("#answer").input_value() == "12-AB"

    answer(window, "99999999")
    page.wait_for_url(re.compile(r"/matching/create-account\?token="))
    reload(window, "consent", "cy")
    window.inspect(f"broker-consent-after-{stack.upstream.name}", "cy")
    page.locator("#consent-yes").click()
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Дмитрий Иванов"


def test_the_welsh_extra_question_reloads_and_a_matching_answer_signs_in(stack, resident):
    window = through_the_upstream(resident, stack, "sam", "cy")
    page = window.page
    assert QUESTION_ADDRESS.search(page.url), page.url
    reload(window, "cycle3", "cy")
    assert window.heading() == QUESTION["cy"]
    window.inspect(f"broker-cycle3-after-{stack.upstream.name}", "cy")
    answer(window, CYCLE3_DEMO_ANSWER)
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Sam Mover"
    assert page.locator("#local-account").get_attribute("data-matching") == "existing"


@pytest.mark.parametrize("language", ["en", "cy"])
def test_the_failure_page_after_the_callback_reloads_with_its_way_back(stack, resident,
                                                                       language):
    window = through_the_upstream(resident, stack, "access-denied", language)
    page = window.page
    assert FAILURE_PAGE_ADDRESS.search(page.url), page.url
    window.inspect(f"broker-cancelled-after-{stack.upstream.name}", language)
    way_back = page.locator("#continue").get_attribute("href")
    for _twice in range(2):
        reload(window, "cancelled", language)
    assert page.locator("#continue").get_attribute("href") == way_back
    page.locator("#continue").click()
    page.wait_for_url(re.compile(re.escape(stack.council_url) + r"/callback\?error=access_denied"))
    assert window.heading() == NOT_SIGNED_IN[language]


def test_the_no_record_page_reloads_with_the_councils_contacts(stack, resident):
    window = through_the_upstream(resident, stack, "lee")
    page = window.page
    answer(window, "12345678")
    page.wait_for_url(re.compile(r"/matching/create-account\?token="))
    page.locator("#consent-yes").click()  # the demo council cannot create Lee's account
    page.wait_for_url(FAILURE_PAGE_ADDRESS)
    reload(window, "no-record", "en")
    assert "0300 555 0100" in page.locator("#council-contact").inner_text()  # the council's
    page.locator("#continue").click()
    page.wait_for_url(re.compile(re.escape(stack.council_url) + r"/callback\?error=access_denied"))
