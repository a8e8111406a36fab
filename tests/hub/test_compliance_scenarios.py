"""GOV.UK Verify's compliance-tool scenarios, played by the stub hub end to end: the broker's
AuthnRequest goes to the stub hub, a scenario is chosen there, and the stub hub's own Response
goes to the broker's assertion consumer service."""

from __future__ import annotations

import lxml.html
import pytest
import requests

from broker.web.pages import PAGES
from tests.oidc_client import authorize, post_to_acs, query


def play(stack, choice: str, **authorize_params) -> requests.Response:
    """Starts a sign-in, chooses `choice` at the stub hub, posts its answer to the broker."""
    session = requests.Session()
    attempt = authorize(stack, session=session, **authorize_params)
    chosen = session.post(f"{stack.hub_url}/saml/sso", timeout=10, data={
        "SAMLRequest": attempt.saml_request, "RelayState": attempt.relay_state})
    assert chosen.status_code == 200, chosen.text
    pending = lxml.html.fromstring(chosen.text).xpath('//input[@name="pending"]/@value')[0]
    answer = session.post(f"{stack.hub_url}/saml/answer", timeout=10,
                          data={"pending": pending, "choice": choice})
    form = lxml.html.fromstring(answer.text)
    saml_response = form.xpath('//input[@name="SAMLResponse"]/@value')[0]
    return post_to_acs(stack, saml_response, attempt.relay_state, session=session)


def heading(response: requests.Response) -> str:
    return lxml.html.fromstring(response.text).xpath("//h1")[0].text_content().strip()


def test_success_at_level_2(stack):
    answer = play(stack, "jane", acr_values="urn:uk:gov:cabinet-office:tc:saml:authn-context:level2")
    assert "code" in query(answer.headers["Location"])


def test_success_at_level_1(stack_factory):
    level_1_council = stack_factory(lambda _ports: {"clients.0.default_level": "LEVEL_1"})
    answer = play(level_1_council, "lee",
                  acr_values="urn:uk:gov:cabinet-office:tc:saml:authn-context:level1")
    assert "code" in query(answer.headers["Location"])


@pytest.mark.parametrize(("choice", "page"), [
    ("cancel", "cancelled"),  # no authentication context
    ("authn-failed", "authn-failed"),
    ("requester-error", "hub-error"),
])
def test_failure_scenarios_have_their_own_pages(stack, choice, page):
    assert heading(play(stack, choice)) == PAGES[page].title


def test_fraud_is_a_neutral_page_never_a_success(stack):
    answer = play(stack, "fraud")
    assert answer.status_code == 200
    assert heading(answer) == PAGES["not-verified"].title
    assert "Location" not in answer.headers


def test_assertions_signed_by_the_hub_instead_of_the_identity_provider_are_refused(stack):
    answer = play(stack, "signed-by-hub")
    assert answer.status_code == 400
    assert heading(answer) == PAGES["rejected"].title


def test_the_stub_hubs_metadata_is_the_federations_shape(stack):
    from broker.hub.federation import parse_hub_metadata

    xml = requests.get(f"{stack.hub_url}/saml/metadata", timeout=10).content
    metadata = parse_hub_metadata(xml, stack.config.hub)
    assert xml.startswith(b"<md:EntitiesDescriptor")
    assert metadata.entity_id == stack.hub.entity_id
    assert len(metadata.signing_certs) == 2
    assert len(metadata.identity_providers) >= 2
    assert b"SingleSignOnService" not in xml.split(b"<md:EntityDescriptor", 2)[1]  # the hub's
