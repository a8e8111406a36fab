"""`make demo` with BROKER_DEMO_UPSTREAM=oidc: the stub OpenID provider with verified_claims
instead of the stub hub, signing in the demo council's resident, matched by its matching service,
in English and Welsh."""

from __future__ import annotations

import pytest
import requests

from tests.demo_process import running_demo
from tests.forms import follow, submit


@pytest.fixture
def demo(tmp_path):
    with running_demo(tmp_path, BROKER_DEMO_UPSTREAM="oidc") as (process, urls):
        yield urls["COUNCIL"], urls["OIDC"], process


def test_the_demo_signs_in_through_the_stub_openid_provider(demo):
    council, provider, process = demo
    browser = requests.Session()
    chooser = follow(browser, browser.get(council, timeout=10), "sign-in")
    assert chooser.url.startswith(provider)
    page = submit(browser, chooser, "choose")
    assert "Jane Doe" in page.text
    records = browser.get(f"{council}/records", timeout=10).text
    assert "DBC-100001" in records  # matched by the demo council's matching service
    process.terminate()
    assert f"stub OpenID IDA:   {provider}" in process.communicate(timeout=10)[0]


def test_the_demo_shows_the_stubs_pages_and_the_brokers_in_welsh(demo):
    council, _provider, _process = demo
    browser = requests.Session()
    browser.cookies.set("council_lang", "cy")
    chooser = follow(browser, browser.get(council, timeout=10), "sign-in")
    assert "ui_locales=cy" in chooser.url and '<html lang="cy"' in chooser.text
    assert "OpenID Connect for Identity Assurance" in chooser.text  # its Welsh names the spec
    failed = submit(browser, chooser, "choose", choice="access-denied")
    assert '<html lang="cy"' in failed.text and 'id="continue"' in failed.text
