"""The browser binding (ADR 12) in Chromium, with the hub on another site than the broker.

The stub hub and the council app are on 127.0.0.1, the broker on localhost: two sites to the
browser, as the national hub and the broker are in production, so the hub's POST to the ACS is
cross-site and brings no SameSite=Lax cookie. An honest sign-in must still work, with and
without JavaScript; a hub answer replayed into another browser must not sign it in."""

from __future__ import annotations

import html
import re
from collections.abc import Iterator

import pytest
import redis

from tests.browser.conftest import choose_at_hub, start_sign_in
from tests.conftest import Stack, start_stack, stop_stack


@pytest.fixture(scope="module")
def cross_site_stack(tmp_path_factory, keys_dir, redis_url) -> Iterator[Stack]:
    def broker_on_localhost(ports):
        broker = f"http://localhost:{ports.broker}"
        return {"issuer": broker, "saml.entity_id": f"{broker}/saml/metadata"}

    stack, servers = start_stack(tmp_path_factory.mktemp("cross-site"), keys_dir, redis_url,
                                 redis.Redis.from_url(redis_url), broker_on_localhost,
                                 prefix_label="test-browser")
    assert stack.config.issuer.startswith("http://localhost:")
    assert stack.hub_url.startswith("http://127.0.0.1:")
    yield stack
    stop_stack(stack, servers)


def broker_cookies(window, stack) -> set[str]:
    return {c["name"] for c in window.page.context.cookies(stack.config.issuer)}


def test_resident_signs_in_with_the_hub_on_another_site(cross_site_stack, resident):
    window = resident()
    start_sign_in(window, cross_site_stack)
    window.page.wait_for_url(re.compile(r"/saml/sso$"))
    choose_at_hub(window, "jane")
    window.page.wait_for_url(f"{cross_site_stack.council_url}/")
    assert window.page.locator("#resident-name").inner_text() == "Jane Doe"
    assert {"broker_session", "broker_binding"} <= broker_cookies(window, cross_site_stack)


def test_resident_signs_in_with_the_hub_on_another_site_without_javascript(cross_site_stack,
                                                                           resident):
    window = resident(javascript=False)
    page = window.page
    start_sign_in(window, cross_site_stack)
    page.locator("#hub-handoff button").click()
    page.wait_for_url(re.compile(r"/saml/sso$"))
    page.locator("#choice-jane").check()
    page.locator("form button[type=submit]").click()
    page.wait_for_url(re.compile(r"/saml/answer$"))
    page.locator("#post-back button").click()             # the cross-site POST to the ACS
    page.wait_for_url(f"{cross_site_stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Jane Doe"


def hub_answer_for_attackers_flow(cross_site_stack, resident) -> dict[str, str]:
    """The attacker takes their own flow through the hub and keeps the answer unposted."""
    attacker = resident(javascript=False)
    start_sign_in(attacker, cross_site_stack)
    attacker.page.locator("#hub-handoff button").click()
    attacker.page.wait_for_url(re.compile(r"/saml/sso$"))
    attacker.page.locator("#choice-jane").check()
    attacker.page.locator("form button[type=submit]").click()
    attacker.page.wait_for_url(re.compile(r"/saml/answer$"))
    form = attacker.page.locator("#post-back")
    return {"action": form.get_attribute("action"),
            "SAMLResponse": form.locator("input[name=SAMLResponse]").get_attribute("value"),
            "RelayState": form.locator("input[name=RelayState]").get_attribute("value")}


@pytest.mark.parametrize("victim_has_a_flow", [False, True])
def test_a_hub_answer_posted_from_another_browser_signs_nobody_in(cross_site_stack, resident,
                                                                  victim_has_a_flow):
    answer = hub_answer_for_attackers_flow(cross_site_stack, resident)
    victim = resident()
    if victim_has_a_flow:  # the victim's own sign-in is in progress: a binding cookie of theirs
        start_sign_in(victim, cross_site_stack)
        victim.page.wait_for_url(re.compile(r"/saml/sso$"))
    attack_page = f"{cross_site_stack.hub_url}/an-attackers-page"
    victim.page.route(attack_page, lambda route: route.fulfill(
        content_type="text/html", body=(
            '<!DOCTYPE html><html lang="en"><body>'
            f'<form method="post" action="{html.escape(answer["action"])}" id="f">'
            f'<input type="hidden" name="SAMLResponse" value="{html.escape(answer["SAMLResponse"])}">'
            f'<input type="hidden" name="RelayState" value="{html.escape(answer["RelayState"])}">'
            '</form><script>document.getElementById("f").submit()</script></body></html>')))
    victim.page.goto(attack_page)
    victim.page.wait_for_url(re.compile(r"/signin/continue"))
    victim.page.wait_for_load_state("load")
    assert victim.page.locator("[data-page]").first.get_attribute("data-page") == "other-browser"
    assert victim.heading() == "Finish signing in from the browser you started in"
    assert "broker_session" not in broker_cookies(victim, cross_site_stack)
    assert not victim.page.url.startswith(cross_site_stack.council_url)
    victim.inspect("broker-other-browser", "en")
