"""Each failure page says what happened and the next step that can work (issue 26.2): where
that step is the council, its configured contact details; no "start again" where starting
again gives the same refusal; One Login's access_denied is the resident's choice, not a
failure to verify them."""

from __future__ import annotations

import lxml.html
import pytest
from flask import g

from broker.journey import FAILURE_PAGES
from broker.one_login.callback import failure_for_error
from broker.upstreams.interface import FailureKind
from broker.web.brand_pages import use_council_brand
from broker.web.pages import PAGES, render_page

COUNCIL_NEXT_STEP = sorted(name for name, page in PAGES.items() if page.contact_council)


def rendered(stack, name: str, council: bool = True) -> lxml.html.HtmlElement:
    with stack.broker_app.test_request_context("/"):
        g.ui_locale = "en"
        if council:
            use_council_brand("test-borough")
        body, _status, _headers = render_page(name, continue_url="https://council.example/cb",
                                              service_name="Test Borough services")
    return lxml.html.fromstring(body)


def test_the_pages_whose_next_step_is_the_council_are_the_failures_that_need_it():
    assert {"authn-failed", "not-verified", "rejected", "no-record",
            "invalid-request"} <= set(COUNCIL_NEXT_STEP)


@pytest.mark.parametrize("name", COUNCIL_NEXT_STEP)
def test_a_page_whose_next_step_is_the_council_shows_its_contact_details(stack, name):
    page = rendered(stack, name)
    contact = page.get_element_by_id("council-contact").text_content()
    assert "Phone: 0300 555 0100" in contact and "Email: help@test-borough.example" in contact
    assert "Contact Test Borough Council" in page.text_content()


def test_a_page_outside_any_council_shows_no_contact_details(stack):
    assert not rendered(stack, "invalid-request", council=False).xpath('//*[@id="council-contact"]')


@pytest.mark.parametrize("name", ["rejected", "not-verified"])
def test_a_refusal_that_would_recur_never_offers_to_start_again(stack, name):
    text = " ".join(rendered(stack, name).xpath('//*[@data-page]')[0].text_content().split())
    assert "start again" not in text.lower() and "try again" not in text.lower()


def test_one_login_access_denied_is_the_resident_stopping_not_a_failed_check():
    failure = failure_for_error("access_denied")
    assert failure.kind is FailureKind.CANCELLED and failure.kind.oidc_error == "access_denied"
    assert FAILURE_PAGES[failure.kind] == "cancelled"
    assert PAGES["cancelled"].title == "You cancelled signing in"


def test_the_no_passive_page_is_in_plain_words():
    page = PAGES["no-passive"]
    assert "asked us not to ask" not in page.what_happened
    assert page.what_happened == ("The council service tried to sign you in without asking you, "
                                  "but you are not signed in yet.")
