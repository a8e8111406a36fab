"""One sign-in suite for every upstream plug-in (issue 25): success, each failure kind's page,
single sign-on, signing out and Welsh, driven through the demo council app by the scripted
residents of tests/council_app.py. Adding a plug-in is one entry in tests/upstreams.py."""

from __future__ import annotations

import pytest
import requests

from broker.journey import FAILURE_PAGES
from broker.upstreams.interface import FailureKind
from tests.council_app import signed_in_subject
from tests.forms import submit
from tests.one_login.conftest import (  # noqa: F401 - fixtures the One Login entry names
    one_login_stack,
    one_login_stack_factory,
)
from tests.openid_ida.conftest import (  # noqa: F401 - fixtures the OIDC4IDA entry names
    ida_stack,
    ida_stack_factory,
)
from tests.upstreams import FAILURE_CASES, UPSTREAMS


@pytest.fixture(params=UPSTREAMS, ids=lambda upstream: upstream.name)
def upstream(request):
    return request.param, request.getfixturevalue(request.param.stack_fixture)


def test_a_resident_signs_in(upstream):
    plug_in, stack = upstream
    page = plug_in.sign_in(stack)
    assert page.status_code == 200
    assert signed_in_subject(page) and "Jane Doe" in page.text and "LEVEL_2" in page.text


@pytest.mark.parametrize(("plug_in", "kind", "choice"), FAILURE_CASES,
                         ids=[f"{u.name}-{kind}" for u, kind, _choice in FAILURE_CASES])
def test_each_failure_kind_ends_on_its_own_page(request, plug_in, kind, choice):
    stack = request.getfixturevalue(plug_in.stack_fixture)
    page = plug_in.sign_in(stack, choice)
    assert f'data-page="{FAILURE_PAGES[FailureKind(kind)]}"' in page.text
    if kind == "cancelled":  # the resident chose to stop: not a failed identity check
        assert "could not verify your identity" not in page.text


def test_single_sign_on_at_the_second_visit_goes_nowhere_upstream(upstream):
    plug_in, stack = upstream
    browser = requests.Session()
    first = plug_in.sign_in(stack, browser=browser)
    del browser.cookies["council_session"]  # the app forgets the resident; the broker does not
    home = browser.get(f"{stack.council_url}/", timeout=10)
    again = submit(browser, home)  # "Sign in": straight back with a code, no upstream
    assert signed_in_subject(again) == signed_in_subject(first)


def test_signing_out_at_the_council_app_ends_the_broker_session(upstream):
    plug_in, stack = upstream
    browser = requests.Session()
    page = plug_in.sign_in(stack, browser=browser)
    signed_out = submit(browser, page, "sign-out")
    assert signed_out.url.rstrip("/") == stack.council_url
    assert not browser.cookies.get("broker_session")


def test_the_pages_follow_the_residents_welsh(upstream):
    plug_in, stack = upstream
    browser = requests.Session()
    browser.cookies.set("council_lang", "cy")
    page = plug_in.sign_in(stack, plug_in.failures["cancelled"], browser=browser)
    assert '<html lang="cy"' in page.text and 'data-page="cancelled"' in page.text
