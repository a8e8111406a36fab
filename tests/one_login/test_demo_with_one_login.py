"""`make demo` with BROKER_DEMO_UPSTREAM=one_login: the stub One Login instead of the stub hub,
signing in the demo council's resident, matched by its matching service, in English and Welsh."""

from __future__ import annotations

import pytest
import requests

from tests.demo_process import running_demo
from tests.forms import follow, submit


@pytest.fixture
def demo(tmp_path):
    with running_demo(tmp_path, BROKER_DEMO_UPSTREAM="one_login") as (process, urls):
        yield urls["COUNCIL"], urls["ONELOGIN"], process


def test_the_demo_signs_in_through_the_stub_one_login(demo):
    council, one_login, process = demo
    browser = requests.Session()
    chooser = follow(browser, browser.get(council, timeout=10), "sign-in")
    assert chooser.url.startswith(one_login)
    page = submit(browser, chooser)
    assert "Jane Doe" in page.text
    records = browser.get(f"{council}/records", timeout=10).text
    assert "DBC-100001" in records  # matched by the demo council's matching service
    process.terminate()
    assert f"stub One Login:    {one_login}" in process.communicate(timeout=10)[0]


def test_the_demo_shows_one_login_pages_and_the_brokers_in_welsh(demo):
    council, one_login, _process = demo
    browser = requests.Session()
    browser.cookies.set("council_lang", "cy")
    chooser = follow(browser, browser.get(council, timeout=10), "sign-in")
    assert "ui_locales=cy" in chooser.url and '<html lang="cy"' in chooser.text
    failed = submit(browser, chooser, choice="access-denied")
    assert 'data-page="cancelled"' in failed.text
    assert '<html lang="cy"' in failed.text
