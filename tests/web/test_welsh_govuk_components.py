"""The Welsh of the texts the broker shares with GOV.UK Frontend's components (skip link, back
link, error summary and message, warning text, service navigation, footer), pinned to the Welsh
that GOV.UK services publish for them, so that a later edit of the catalogue cannot drift away
unnoticed. What was compared, and where the sources disagree: docs/welsh.md.

GOV.UK Frontend itself ships English only ("Localise GOV.UK Frontend": each service provides its
own translations), so the sources are, for each text, the ones that publish it:
- FRONTEND: alphagov/govuk-frontend at 4a1ae890d1b7 (July 2026): the review app's Welsh page
  packages/govuk-frontend-review/src/views/examples/translated/index.njk and the error message's
  fixtures (components/error-message/error-message.yaml);
- HMRC: hmrc/play-frontend-hmrc play-frontend-hmrc-play-30/src/main/resources/messages.cy, the
  Welsh for GOV.UK Frontend's components that HMRC's services use;
- ONE_LOGIN: govuk-one-login/authentication-frontend src/locales/cy/translation.json, GOV.UK One
  Login's own pages (the upstream a resident may come from).
No Welsh speaker has reviewed these.
"""

from __future__ import annotations

import lxml.html
import pytest
from babel.messages.pofile import read_po

from broker.web.design import TRANSLATIONS

FRONTEND, HMRC, ONE_LOGIN = "govuk-frontend review app", "play-frontend-hmrc", "One Login"

# msgid → (the Welsh, the sources that use exactly that Welsh)
SHARED_WITH_GOVUK_FRONTEND = {
    "Skip to main content": ("Neidio i'r prif gynnwys", (FRONTEND,)),
    "Back": ("Yn ôl", (HMRC, ONE_LOGIN)),
    "There is a problem": ("Mae problem wedi codi", (HMRC,)),
    "Error:": ("Gwall:", (FRONTEND, HMRC, ONE_LOGIN)),
    "Warning": ("Rhybudd", (HMRC, ONE_LOGIN)),
    "Menu": ("Dewislen", (FRONTEND, HMRC)),
    "Support links": ("Dolenni cymorth", (FRONTEND,)),
    "Cookies": ("Cwcis", (FRONTEND, HMRC, ONE_LOGIN)),
    "Accessibility statement": ("Datganiad hygyrchedd", (HMRC, ONE_LOGIN)),
    "Privacy notice": ("Hysbysiad preifatrwydd", (ONE_LOGIN,)),
    "Continue": ("Parhau", (ONE_LOGIN,)),
}


@pytest.fixture(scope="module")
def catalogue():
    with (TRANSLATIONS / "cy" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        return read_po(f, locale="cy")


@pytest.mark.parametrize("msgid", SHARED_WITH_GOVUK_FRONTEND)
def test_a_govuk_component_text_has_the_welsh_govuk_services_use(catalogue, msgid):
    welsh, sources = SHARED_WITH_GOVUK_FRONTEND[msgid]
    assert sources, f"{msgid}: name the source of its Welsh"
    message = catalogue.get(msgid)
    assert message is not None, f"{msgid} is no longer in the catalogue: update this list"
    assert message.string == welsh, f"{msgid}: {message.string!r}, but {', '.join(sources)}: {welsh!r}"


def test_a_welsh_page_shows_the_pinned_welsh_in_the_components(stack):
    """The layout passes these texts to the components, whose defaults are English. (The
    service navigation's "Menu" shows only with navigation items, which the broker has none
    of.)"""
    response = stack.broker_app.test_client().get("/cookies", query_string={"lang": "cy"})
    page = lxml.html.fromstring(response.get_data(as_text=True))

    def text(xpath: str) -> str:
        found = page.xpath(xpath)
        assert found, xpath
        return found[0].text_content().strip()

    assert text('//a[contains(@class,"govuk-skip-link")]') == "Neidio i'r prif gynnwys"
    assert text('//footer//h2[contains(@class,"govuk-visually-hidden")]'
                ' | //div[contains(@class,"govuk-footer")]//h2') == "Dolenni cymorth"
