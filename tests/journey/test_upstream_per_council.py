"""An upstream per council (issue 25 item 6): one broker serves a council on Verify's hub and a
council on GOV.UK One Login, and single sign-on never crosses from one upstream to the other."""

from __future__ import annotations

import pytest
import requests

from broker.config import ConfigError
from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET
from tests.forms import form_fields
from tests.oidc_client import authorize, query
from tests.one_login.conftest import (
    answer_at_one_login,
    one_login_stack_factory,  # noqa: F401 - a fixture
)

ONE_LOGIN_CLIENT = "one-login-council-app"


@pytest.fixture
def mixed_stack(one_login_stack_factory):  # noqa: F811 - the fixture imported above
    """The broker's own upstream is Verify's hub; the council `one-login-borough` names One Login."""

    def changes(ports):
        redirect = f"{ports.url('council')}/callback"
        return {
            "upstream": {"kind": "verify"},
            "councils.one-login-borough": {"name": "One Login Borough",
                                           "entity_id": "https://one-login-borough.example.gov.uk",
                                           "upstream": "one_login", "matching": "none"},
            "clients": [
                {"client_id": COUNCIL_CLIENT_ID, "client_secret": COUNCIL_CLIENT_SECRET,
                 "council": "test-borough", "redirect_uris": [redirect],
                 "scopes": ["openid", "profile", "address"]},
                {"client_id": ONE_LOGIN_CLIENT, "client_secret": COUNCIL_CLIENT_SECRET,
                 "council": "one-login-borough", "redirect_uris": [redirect],
                 "scopes": ["openid", "profile", "address"]},
            ],
        }

    return one_login_stack_factory(changes)


def _hands_off_to_the_hub(response: requests.Response) -> bool:
    return response.status_code == 200 and 'name="SAMLRequest"' in response.text


def test_each_council_hands_off_to_its_own_upstream(mixed_stack):
    hub = authorize(mixed_stack, client_id=COUNCIL_CLIENT_ID)
    one_login = authorize(mixed_stack, client_id=ONE_LOGIN_CLIENT)
    assert _hands_off_to_the_hub(hub.response)
    assert one_login.response.status_code == 302
    assert one_login.response.headers["Location"].startswith(mixed_stack.stub.base_url)


def test_a_one_login_session_is_not_single_sign_on_at_a_council_on_the_hub(mixed_stack):
    browser = requests.Session()
    attempt = authorize(mixed_stack, session=browser, client_id=ONE_LOGIN_CLIENT)
    callback = answer_at_one_login(mixed_stack, browser, attempt, "jane")
    signed_in = browser.get(callback, allow_redirects=False, timeout=10)
    assert signed_in.status_code == 302 and "code" in query(signed_in.headers["Location"])
    assert browser.cookies.get("broker_session")

    at_the_hub_council = authorize(mixed_stack, session=browser, client_id=COUNCIL_CLIENT_ID)
    assert _hands_off_to_the_hub(at_the_hub_council.response)  # asked again, at the hub

    again = authorize(mixed_stack, session=browser, client_id=ONE_LOGIN_CLIENT)
    assert again.response.status_code == 302  # same upstream: single sign-on, a code at once
    assert "code" in query(again.response.headers["Location"])


def test_a_flow_handed_to_one_login_is_no_flow_at_the_hubs_acs(mixed_stack):
    browser = requests.Session()
    attempt = authorize(mixed_stack, session=browser, client_id=ONE_LOGIN_CLIENT)
    state = query(attempt.response.headers["Location"])["state"]
    page = browser.post(f"{mixed_stack.broker_url}/saml/acs",
                        data={"RelayState": state, "SAMLResponse": "PHNhbWxwOlJlc3BvbnNlLz4="},
                        allow_redirects=False, timeout=10)
    assert 'data-page="session-expired"' in page.text
    assert "broker_session" not in browser.cookies


def test_a_flow_handed_to_the_hub_is_no_flow_at_one_logins_callback(mixed_stack):
    browser = requests.Session()
    attempt = authorize(mixed_stack, session=browser, client_id=COUNCIL_CLIENT_ID)
    _method, _action, fields = form_fields(attempt.response.text, "hub-handoff")
    page = browser.get(f"{mixed_stack.broker_url}/onelogin/callback",
                       params={"state": fields["RelayState"], "code": "x" * 20},
                       allow_redirects=False, timeout=10)
    assert 'data-page="session-expired"' in page.text


def test_a_council_naming_an_unknown_upstream_is_refused(tmp_path, keys_dir):
    from broker.config import load_config
    from tests.conftest import Ports, write_config

    ports = Ports(broker=1, hub=2, council=3)
    path = write_config(tmp_path, keys_dir, ports, "redis://127.0.0.1:6379/0", "unused:",
                        **{"councils.test-borough.upstream": "saml-hub"})
    with pytest.raises(ConfigError) as refused:
        load_config(path, {})
    assert refused.value.key == "councils.test-borough.upstream"


def test_a_council_on_one_login_needs_the_one_login_section(tmp_path, keys_dir):
    from broker.config import load_config
    from tests.conftest import Ports, write_config

    ports = Ports(broker=1, hub=2, council=3)
    path = write_config(tmp_path, keys_dir, ports, "redis://127.0.0.1:6379/0", "unused:",
                        **{"councils.test-borough.upstream": "one_login"})
    with pytest.raises(ConfigError) as refused:
        load_config(path, {})
    assert refused.value.key.startswith("one_login")
