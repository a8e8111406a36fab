"""Third parties failing under a running broker: the council's matching service slow, hanging,
refusing or answering garbage; the hub's metadata URL down or serving a bad signature when a
refresh is due; a council app's back-channel logout endpoint down. Each ends as its issue says,
and no other sign-in is affected. In-process broker on a real port; third parties mocked with
`responses` (calls to the local servers pass through)."""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Iterator

import pytest
import requests
import responses

from broker.hub.metadata_source import HubMetadataSource
from broker.state import BrokerState
from tests import hub_messages
from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET
from tests.matching.conftest import MATCHING_URL, matching_config
from tests.oidc_client import authorize, post_to_acs, sign_in
from tests.reliability.conftest import no_stack_trace, wait_until

OTHER_CLIENT = "other-app"
TRY_LATER = "Sorry, we cannot check your council record at the moment"
MATCH = {"result": "match", "localAccountId": "LA-1"}


@pytest.fixture
def mock() -> Iterator[responses.RequestsMock]:
    with responses.RequestsMock(assert_all_requests_are_fired=False) as requests_mock:
        requests_mock.add_passthru(re.compile(r"http://127\.0\.0\.1:\d+"))
        yield requests_mock


def second_client(ports, council: str, **options) -> dict:
    return {"client_id": OTHER_CLIENT, "council": council, "name": "Other services",
            "client_secret": "other-secret", "redirect_uris": [f"{ports.url('council')}/other"],
            "scopes": ["openid", "profile"], **options}


@pytest.fixture
def matching_stack(stack_factory, tmp_path):
    """Test Borough matches (timeout 1 s); Other Borough's app signs in without matching."""
    return stack_factory(lambda ports: {
        "councils.test-borough.matching": matching_config(timeout_seconds=1),
        "councils.other-borough": {"name": "Other Borough Council",
                                   "entity_id": "https://other-borough.example.gov.uk"},
        "database": {"url": f"sqlite:///{tmp_path / 'links.sqlite3'}", "auto_upgrade": True},
        "clients": [{"client_id": COUNCIL_CLIENT_ID, "council": "test-borough", "name": "Test",
                     "client_secret": COUNCIL_CLIENT_SECRET,
                     "redirect_uris": [f"{ports.url('council')}/callback"],
                     "scopes": ["openid", "profile", "address"]},
                    second_client(ports, "other-borough")],
    })


def acs_answer(stack, **authorize_params) -> requests.Response:
    attempt = authorize(stack, **authorize_params)
    return post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id),
                       attempt.relay_state)


def other_council_sign_in(stack) -> requests.Response:
    return acs_answer(stack, client_id=OTHER_CLIENT, redirect_uri=f"{stack.council_url}/other",
                      scope="openid profile")


def links_of(stack) -> list:
    return stack.broker_app.extensions["broker"].matching.links.find("test-borough")


def hang_until_timeout(request):
    """What a hung service looks like to `requests`: nothing until the read timeout."""
    timeout = request.req_kwargs["timeout"]
    time.sleep(timeout[1] if isinstance(timeout, tuple) else timeout)
    raise requests.ReadTimeout("read timed out")


# --- the council's matching service --------------------------------------------------------------

def test_a_slow_matching_service_that_answers_within_its_timeout_still_matches(matching_stack, mock):
    def slow(_request):
        time.sleep(0.5)
        return 200, {}, '{"result": "match", "localAccountId": "LA-1"}'

    mock.add_callback(responses.POST, MATCHING_URL, callback=slow)
    answer = acs_answer(matching_stack)
    assert answer.status_code == 302 and "code=" in answer.headers["Location"]


def test_a_hanging_matching_service_ends_on_the_try_later_page_after_its_timeout(matching_stack,
                                                                                mock):
    mock.add_callback(responses.POST, MATCHING_URL, callback=hang_until_timeout)
    started = time.monotonic()
    answer = acs_answer(matching_stack)
    assert answer.status_code == 503 and TRY_LATER in answer.text and no_stack_trace(answer)
    assert time.monotonic() - started < 5
    assert links_of(matching_stack) == []


def test_the_matching_service_is_called_with_the_configured_timeout(matching_stack, mock):
    mock.add(responses.POST, MATCHING_URL, json=MATCH)
    acs_answer(matching_stack)
    [call] = [c for c in mock.calls if c.request.url == MATCHING_URL]
    timeout = call.request.req_kwargs["timeout"]
    assert (max(timeout) if isinstance(timeout, tuple) else timeout) == 1


def test_a_refusing_matching_service_ends_on_the_try_later_page(matching_stack, mock):
    mock.add(responses.POST, MATCHING_URL, body=requests.ConnectionError("connection refused"))
    answer = acs_answer(matching_stack)
    assert answer.status_code == 503 and TRY_LATER in answer.text and no_stack_trace(answer)


@pytest.mark.parametrize("status, body", [
    (200, "<html>not json</html>"),
    (200, '{"result": "perhaps"}'),
    (200, '["match"]'),
    (200, '{"result": "match", "localAccountId": {"nested": true}}'),
    (500, '{"result": "match"}'),
    (302, ""),
])
def test_garbage_from_the_matching_service_ends_on_the_try_later_page(matching_stack, mock,
                                                                       status, body):
    mock.add(responses.POST, MATCHING_URL, body=body, status=status,
             content_type="application/json")
    answer = acs_answer(matching_stack)
    assert answer.status_code == 503 and TRY_LATER in answer.text and no_stack_trace(answer)
    assert links_of(matching_stack) == []


def test_a_hanging_matching_service_does_not_hold_up_other_sign_ins(matching_stack, mock):
    release, entered = threading.Event(), threading.Event()

    def hang(_request):
        entered.set()
        release.wait(15)  # hung until the test has seen the other sign-in through
        raise requests.ReadTimeout("read timed out")

    mock.add_callback(responses.POST, MATCHING_URL, callback=hang)
    stuck = threading.Thread(target=acs_answer, args=(matching_stack,))
    stuck.start()
    try:
        wait_until(entered.is_set, 10, "the matching call to start")
        other = other_council_sign_in(matching_stack)
        assert other.status_code == 302 and "code=" in other.headers["Location"]
        assert stuck.is_alive()  # the first resident's sign-in is still waiting on the service
    finally:
        release.set()
        stuck.join(10)


# --- the hub's metadata ---------------------------------------------------------------------------

@pytest.fixture
def refreshing_stack(stack_factory):
    """A stack whose hub metadata is due for a refresh every second."""
    stack = stack_factory(lambda ports: {"hub.refresh_seconds": 1})
    sign_in(stack)  # the first fetch, from the stub hub, succeeds
    return stack


def metadata_source(stack) -> HubMetadataSource:
    return stack.broker_app.extensions["broker"].hub_metadata


def refresh_failed(stack) -> bool:
    authorize(stack)  # a sign-in finds the copy stale and tries to refresh it
    return metadata_source(stack).status().last_error is not None


def test_sign_ins_go_on_with_the_last_good_metadata_while_the_metadata_url_is_down(
        refreshing_stack, mock):
    mock.add(responses.GET, f"{refreshing_stack.hub_url}/saml/metadata",
             body=requests.ConnectionError("connection refused"))
    wait_until(lambda: refresh_failed(refreshing_stack), 10, "a failed refresh")
    _attempt, callback = sign_in(refreshing_stack)
    assert "code" in callback


def test_sign_ins_go_on_with_the_last_good_metadata_when_the_refresh_has_a_bad_signature(
        refreshing_stack, mock):
    good = requests.get(f"{refreshing_stack.hub_url}/saml/metadata", timeout=10).text
    tampered = good.replace("/idp/stub-idp-one", "/idp/evil-idp", 1)
    assert tampered != good
    mock.add(responses.GET, f"{refreshing_stack.hub_url}/saml/metadata", body=tampered)
    wait_until(lambda: refresh_failed(refreshing_stack), 10, "a refused refresh")
    _attempt, callback = sign_in(refreshing_stack)
    assert "code" in callback  # the stub's identity provider is still the trusted one


def test_at_cold_start_sign_ins_wait_for_the_process_fetching_the_metadata(stack, redis_client):
    """Every process but the one holding the refresh claim used to fail its sign-ins with
    "unavailable" until that one had fetched the first copy."""
    config = stack.config.hub
    state = BrokerState(redis_client, f"{stack.prefix}cold:")
    fetching, waiting = HubMetadataSource(config, state), HubMetadataSource(config, state)
    assert state.claim_hub_metadata_refresh(60)  # another process is fetching right now
    finish = threading.Timer(0.3, fetching.refresh)
    finish.start()
    try:
        metadata = waiting.current()
    finally:
        finish.join(10)
    assert metadata.sso_url.startswith(stack.hub_url)


# --- a council app's back-channel logout endpoint -------------------------------------------------

@pytest.fixture
def logout_stack(stack_factory):
    """Two apps of one council, each with a back-channel logout endpoint."""
    return stack_factory(lambda ports: {"clients": [
        {"client_id": COUNCIL_CLIENT_ID, "council": "test-borough", "name": "Test",
         "client_secret": COUNCIL_CLIENT_SECRET,
         "redirect_uris": [f"{ports.url('council')}/callback"], "scopes": ["openid", "profile"],
         "backchannel_logout_uri": "https://down.example/backchannel"},
        second_client(ports, "test-borough",
                      backchannel_logout_uri="https://up.example/backchannel")]})


def confirmed_logout(stack, browser: requests.Session) -> requests.Response:
    """The resident confirms on the broker's page (its form carries the session's CSRF token)."""
    import lxml.html

    page = browser.get(f"{stack.broker_url}/logout", timeout=20)
    form = lxml.html.fromstring(page.text).xpath('//form[@id="logout-confirm"]')[0]
    return browser.post(f"{stack.broker_url}/logout", timeout=20,
                        data={i.get("name"): i.get("value") for i in form.xpath(".//input")})


def test_logout_completes_when_one_apps_back_channel_endpoint_is_down(logout_stack, mock):
    mock.add(responses.POST, "https://down.example/backchannel",
             body=requests.ConnectionError("connection refused"))
    mock.add(responses.POST, "https://up.example/backchannel", status=200)
    browser = requests.Session()
    sign_in(logout_stack, session=browser, scope="openid profile")
    sign_in(logout_stack, session=browser, client_id=OTHER_CLIENT,
            redirect_uri=f"{logout_stack.council_url}/other", scope="openid profile")
    started = time.monotonic()
    signed_out = confirmed_logout(logout_stack, browser)
    assert signed_out.status_code == 200 and "You have signed out" in signed_out.text
    assert time.monotonic() - started < 5
    told = [c for c in mock.calls if c.request.url == "https://up.example/backchannel"]
    assert len(told) == 1 and "logout_token=" in told[0].request.body


def test_a_down_back_channel_endpoint_does_not_affect_the_next_sign_in(logout_stack, mock):
    mock.add(responses.POST, "https://down.example/backchannel",
             body=requests.ConnectionError("connection refused"))
    mock.add(responses.POST, "https://up.example/backchannel", status=200)
    browser = requests.Session()
    sign_in(logout_stack, session=browser, scope="openid profile")
    assert "You have signed out" in confirmed_logout(logout_stack, browser).text
    _attempt, callback = sign_in(logout_stack, session=browser, scope="openid profile")
    assert "code" in callback
