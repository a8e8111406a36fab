"""No English on a Welsh page, the <title> included (issue 26.3): every page of the catalogue,
and every other page the broker serves, rendered in Welsh and read for English catalogue text.
The matching pages (the extra question, the account question) are in tests/matching."""

from __future__ import annotations

import lxml.html
import pytest
from flask import g, render_template
from flask_babel import gettext, refresh

from broker.web.brand_pages import use_council_brand
from broker.web.pages import PAGES, render_page
from tests.oidc_client import authorize
from tests.welsh import english_left_on, title_of

SERVICE = "Mewngofnodi i'ch cyngor"


def welsh(stack, render):
    app = stack.broker_app
    with app.test_request_context("/", headers={"Accept-Language": "cy"}):
        g.ui_locale = "cy"
        refresh()
        use_council_brand("test-borough")
        return render()


@pytest.mark.parametrize("name", sorted(PAGES))
def test_every_catalogue_page_is_all_welsh(stack, name):
    body, _status, _headers = welsh(stack, lambda: render_page(
        name, continue_url="https://council.example/callback?error=access_denied",
        service_name="Gwasanaethau Prawf", reference="AB12CD34",
        contact="Ffôn: 0300 555 0100"))
    assert english_left_on(body) == []
    assert title_of(body).startswith(welsh(stack, lambda: gettext(PAGES[name].title)))
    assert title_of(body).endswith(f"– {SERVICE}")


@pytest.mark.parametrize("path", ["/", "/cookies", "/no-such-page", "/logout"])
def test_the_brokers_own_pages_are_all_welsh(stack, path):
    response = stack.broker_app.test_client().get(path, query_string={"lang": "cy"})
    html = response.get_data(as_text=True)
    assert '<html lang="cy"' in html
    assert english_left_on(html) == []


def test_the_sign_out_question_is_all_welsh(stack):
    html = welsh(stack, lambda: render_template(
        "logout_confirm.html", params={}, csrf_token="t", cancel_url="https://council.example/"))
    assert english_left_on(html) == []
    assert title_of(html) == f"Ydych chi eisiau allgofnodi? – {SERVICE}"


def test_the_hand_off_to_the_hub_is_all_welsh(stack):
    attempt = authorize(stack, ui_locales="cy")
    assert english_left_on(attempt.response.text) == []


def test_the_check_finds_english_that_was_left_untranslated(stack):
    """The check itself: an English page in a Welsh layout is caught, title and body."""
    body, _status, _headers = welsh(stack, lambda: render_page("cancelled"))
    english = body.replace("Gwnaethoch ganslo mewngofnodi", "You cancelled signing in")
    assert english_left_on(english) == ["You cancelled signing in"]


def test_the_cookies_page_lists_the_names_browsers_see_over_https(stack_factory):
    """Over https every broker cookie is `__Host-`-prefixed (broker/web/cookies.py): the page
    lists those names, the ones a resident finds in their browser."""
    broker = "https://broker.example.test"
    stack = stack_factory(lambda ports: {"issuer": broker,
                                         "saml.entity_id": f"{broker}/saml/metadata"})
    html = stack.broker_app.test_client().get("/cookies", base_url=broker).get_data(as_text=True)
    names = lxml.html.fromstring(html).xpath('//table[@id="cookies"]//tbody//code/text()')
    assert sorted(names) == ["__Host-broker_binding", "__Host-broker_council",
                             "__Host-broker_lang", "__Host-broker_session"]
