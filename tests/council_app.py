"""A resident at the demo council app with a browser without JavaScript: signing in through the
broker, and reading what the council app then shows."""

from __future__ import annotations

import lxml.html
import requests

from tests.forms import follow, submit


def sign_in_through_the_hub(stack, choice: str | None = None,
                            browser: requests.Session | None = None) -> requests.Response:
    """Council app → broker → stub hub → broker → council app; the last page."""
    browser = browser or requests.Session()
    home = browser.get(stack.council_url, timeout=10)
    handoff = follow(browser, home, "sign-in")           # "Sign in" → /authorize → hub hand-off
    assert 'id="hub-handoff"' in handoff.text
    chooser = submit(browser, handoff, "hub-handoff")    # → stub hub
    answer = submit(browser, chooser, **({"choice": choice} if choice else {}))
    return submit(browser, answer, "post-back")          # → broker ACS → council app


def sign_in_through_one_login(stack, choice: str | None = None,
                              browser: requests.Session | None = None) -> requests.Response:
    """Council app → broker → stub One Login → broker → council app; the last page."""
    browser = browser or requests.Session()
    home = browser.get(stack.council_url, timeout=10)
    chooser = follow(browser, home, "sign-in")  # "Sign in" → /authorize → 302 to One Login's /authorize
    assert chooser.url.startswith(stack.stub.base_url), chooser.url
    return submit(browser, chooser, **({"choice": choice} if choice else {}))


def sign_in_through_openid_ida(stack, choice: str | None = None,
                               browser: requests.Session | None = None) -> requests.Response:
    """Council app → broker → stub OpenID provider (OIDC4IDA) → broker → council app; the last
    page."""
    browser = browser or requests.Session()
    home = browser.get(stack.council_url, timeout=10)
    chooser = follow(browser, home, "sign-in")  # "Sign in" → /authorize → 302 to the provider's /authorize
    assert chooser.url.startswith(stack.provider_url), chooser.url
    return submit(browser, chooser, "choose", **({"choice": choice} if choice else {}))


def signed_in_subject(page: requests.Response) -> str:
    """The `sub` the council app received, as its signed-in page shows it."""
    found = lxml.html.fromstring(page.text).xpath('//*[@id="subject"]//text()')
    assert found, "the council app's signed-in page was not reached"
    return found[0].strip()


def local_account(browser: requests.Session, stack) -> str:
    """The local account the council app's records page shows for the signed-in resident."""
    page = browser.get(f"{stack.council_url}/records", timeout=10)
    return lxml.html.fromstring(page.text).xpath('//*[@id="local-account-id"]')[0].text
