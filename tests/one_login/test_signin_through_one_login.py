"""The whole sign-in with One Login upstream, over HTTP: council app → broker → stub One Login →
broker → council app, as a browser without JavaScript does it."""

from __future__ import annotations

import json
import logging

import pytest
import requests

from broker.identity import LevelOfAssurance
from tests.council_app import sign_in_through_one_login as sign_in
from tests.forms import link
from tests.oidc_client import authorize, query, redeem, shown_page
from tests.oidc_client import sign_in as verify_sign_in
from tests.one_login.conftest import answer_at_one_login, sign_in_for_code


def test_resident_signs_in_through_one_login_and_council_app_shows_verified_name(one_login_stack):
    page = sign_in(one_login_stack)
    assert page.status_code == 200
    assert "Jane Doe" in page.text
    assert "1980-05-01" in page.text
    assert "LEVEL_2" in page.text


def test_p1_identity_signs_in_at_level_1(one_login_stack_factory):
    stack = one_login_stack_factory(lambda _ports: {"clients.0.default_level": "LEVEL_1"})
    page = sign_in(stack, "lee")
    assert "Lee One" in page.text
    assert "LEVEL_1" in page.text


def userinfo(stack, attempt, params) -> dict:
    tokens = redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri).json()
    return requests.get(f"{stack.broker_url}/userinfo", timeout=10, headers={
        "Authorization": f"Bearer {tokens['access_token']}"}).json()


@pytest.mark.parametrize("resident", ["jane", "dmitri"])
def test_council_app_gets_the_same_claims_as_through_verify(one_login_stack, stack_factory,
                                                            resident):
    attempt, params = sign_in_for_code(one_login_stack, resident)
    through_one_login = userinfo(one_login_stack, attempt, params)
    verify_stack = stack_factory()
    attempt, params = verify_sign_in(verify_stack, identity=resident)
    through_verify = userinfo(verify_stack, attempt, params)
    for claims in (through_one_login, through_verify):
        claims.pop("sub")
    assert through_one_login == through_verify


def test_subjects_are_pairwise_per_council_and_stable(one_login_stack_factory):
    def other_council(ports):
        return {"councils.test-borough.entity_id": "https://other-borough.example.gov.uk"}

    first, second = one_login_stack_factory(), one_login_stack_factory(other_council)
    subs = []
    for stack in (first, first, second):
        attempt, params = sign_in_for_code(stack, "jane")
        subs.append(userinfo(stack, attempt, params)["sub"])
    assert subs[0] == subs[1]
    assert subs[0] != subs[2]


def test_pages_follow_the_council_apps_welsh_to_one_login_and_back(one_login_stack):
    session = requests.Session()
    attempt = authorize(one_login_stack, session=session, ui_locales="cy")
    assert query(attempt.response.headers["Location"])["ui_locales"] == "cy"
    callback = answer_at_one_login(one_login_stack, session, attempt, "access-denied")
    page = session.get(callback, timeout=10)
    assert '<html lang="cy"' in page.text
    assert 'data-page="cancelled"' in page.text


def test_one_login_is_asked_for_identity_at_the_councils_level(one_login_stack):
    attempt = authorize(one_login_stack, acr_values=LevelOfAssurance.LEVEL_2.uri)
    asked = query(attempt.response.headers["Location"])
    assert json.loads(asked["vtr"]) == ["Cl.Cm.P2"]
    assert set(json.loads(asked["claims"])["userinfo"]) >= {
        "https://vocab.account.gov.uk/v1/coreIdentityJWT", "https://vocab.account.gov.uk/v1/address"}
    assert asked["redirect_uri"] == f"{one_login_stack.broker_url}/onelogin/callback"
    assert asked["state"] and asked["nonce"] and asked["state"] != asked["nonce"]


def test_an_edited_request_for_level_1_still_asks_one_login_for_p2(one_login_stack):
    """The client is configured for LEVEL_2: acr_values can raise that, never lower it."""
    attempt = authorize(one_login_stack, acr_values=LevelOfAssurance.LEVEL_1.uri)
    assert json.loads(query(attempt.response.headers["Location"])["vtr"]) == ["Cl.Cm.P2"]


def test_p1_identity_is_refused_when_the_council_needs_level_2(one_login_stack):
    session = requests.Session()
    attempt = authorize(one_login_stack, session=session, acr_values=LevelOfAssurance.LEVEL_2.uri)
    callback = answer_at_one_login(one_login_stack, session, attempt, "lee")
    page = shown_page(session, session.get(callback, allow_redirects=False, timeout=10))
    assert 'data-page="level-not-met"' in page.text
    assert query(link(page, "continue"))["error"] == "access_denied"


def test_a_replayed_callback_is_refused(one_login_stack):
    session = requests.Session()
    attempt = authorize(one_login_stack, session=session)
    callback = answer_at_one_login(one_login_stack, session, attempt, "jane")
    assert session.get(callback, allow_redirects=False, timeout=10).status_code == 302
    again = session.get(callback, allow_redirects=False, timeout=10)
    assert 'data-page="session-expired"' in again.text


def test_a_callback_in_another_browser_is_refused(one_login_stack):
    session = requests.Session()
    attempt = authorize(one_login_stack, session=session)
    callback = answer_at_one_login(one_login_stack, session, attempt, "jane")
    elsewhere = requests.get(callback, allow_redirects=False, timeout=10)
    assert 'data-page="other-browser"' in elsewhere.text
    assert "code=" not in elsewhere.headers.get("Location", "")
    assert "broker_session" not in elsewhere.cookies


def test_an_attackers_callback_in_a_residents_browser_signs_nobody_in(one_login_stack):
    """Login CSRF: the attacker signs in at One Login and has the resident's browser, which
    holds its own binding cookie from a sign-in of its own, open the attacker's callback."""
    attacker, resident = requests.Session(), requests.Session()
    attackers_callback = answer_at_one_login(
        one_login_stack, attacker, authorize(one_login_stack, session=attacker), "jane")
    authorize(one_login_stack, session=resident)
    assert resident.cookies.get("broker_binding")
    page = resident.get(attackers_callback, allow_redirects=False, timeout=10)
    assert 'data-page="other-browser"' in page.text
    assert "broker_session" not in resident.cookies


def test_the_one_login_flow_is_bound_by_the_journeys_binding_cookie(one_login_stack):
    session = requests.Session()
    attempt = authorize(one_login_stack, session=session)
    binding = attempt.response.cookies.get("broker_binding")
    assert binding and "broker_onelogin" not in attempt.response.cookies
    callback = answer_at_one_login(one_login_stack, session, attempt, "jane")
    other = requests.Session()
    other.cookies.set("broker_binding", binding[::-1])  # well-formed, not this flow's
    assert 'data-page="other-browser"' in other.get(callback, allow_redirects=False,
                                                      timeout=10).text


@pytest.mark.parametrize(("choice", "page", "error"), [
    ("access-denied", "cancelled", "access_denied"),
    ("not-proven", "level-not-met", "access_denied"),
    ("temporarily-unavailable", "hub-error", "temporarily_unavailable"),
])
def test_one_login_failures_show_the_page_of_their_kind(one_login_stack, choice, page, error):
    session = requests.Session()
    attempt = authorize(one_login_stack, session=session)
    callback = answer_at_one_login(one_login_stack, session, attempt, choice)
    shown = shown_page(session, session.get(callback, allow_redirects=False, timeout=10))
    assert f'data-page="{page}"' in shown.text
    assert query(link(shown, "continue"))["error"] == error


def test_stopping_at_one_login_is_a_cancel_not_a_failed_identity_check(one_login_stack):
    """access_denied is the resident choosing to stop: never "we could not verify your identity"."""
    session = requests.Session()
    attempt = authorize(one_login_stack, session=session)
    callback = answer_at_one_login(one_login_stack, session, attempt, "access-denied")
    shown = shown_page(session, session.get(callback, allow_redirects=False, timeout=10))
    assert "You cancelled signing in" in shown.text
    assert "could not verify your identity" not in shown.text


def test_readiness_reports_one_login_documents(one_login_stack):
    report = requests.get(f"{one_login_stack.broker_url}/readyz", timeout=10).json()
    assert report["checks"]["one_login"]["ok"] is True
    assert "hub_metadata" not in report["checks"]


def test_the_private_key_jwt_key_is_published_without_its_private_part(one_login_stack):
    keys = requests.get(f"{one_login_stack.broker_url}/onelogin/jwks.json", timeout=10).json()
    assert [key["kty"] for key in keys["keys"]] == ["RSA"]
    assert not any("d" in key or "p" in key for key in keys["keys"])


def test_fresh_authentication_asked_by_the_council_is_asked_of_one_login(one_login_stack):
    attempt = authorize(one_login_stack, prompt="login")
    assert query(attempt.response.headers["Location"])["prompt"] == "login"


def test_a_level_one_login_cannot_give_ends_on_the_level_page_before_one_login(one_login_stack):
    attempt = authorize(one_login_stack, acr_values=LevelOfAssurance.LEVEL_4.uri)
    assert 'data-page="level-not-met"' in attempt.response.text
    assert query(link(attempt.response, "continue"))["error"] == "access_denied"


def test_check_config_fetches_one_logins_documents(one_login_stack):
    from broker.operations.checks import run_checks

    _source, problems = run_checks(one_login_stack.config.source, environ={})
    assert [p for p in problems if p.key.startswith(("one_login", "hub"))] == []


def test_check_config_names_one_login_when_its_documents_cannot_be_had(one_login_stack, tmp_path):
    import yaml

    from broker.operations.checks import run_checks

    data = yaml.safe_load(open(one_login_stack.config.source))
    data["one_login"]["did_url"] = f"{one_login_stack.stub.base_url}/nowhere/did.json"
    path = tmp_path / "broken.yaml"
    path.write_text(yaml.safe_dump(data))
    _source, problems = run_checks(str(path), environ={})
    [problem] = [p for p in problems if p.key.startswith("one_login")]
    assert "404" in problem.text


def test_the_one_login_flow_is_sealed_and_its_nonce_comes_back_through_the_codec(one_login_stack):
    attempt = authorize(one_login_stack)
    asked = query(attempt.response.headers["Location"])
    state = one_login_stack.broker_app.extensions["broker"].state
    raw = one_login_stack.redis.get(state.key_for("flow", asked["state"]))
    assert raw.startswith(b"sealed:v1:") and asked["nonce"].encode() not in raw
    assert asked["state"] not in state.key_for("flow", asked["state"])
    flow = state.take_flow(asked["state"])
    assert flow.openid.nonce == asked["nonce"] and flow.browser_binding


def test_nothing_readable_in_redis_after_a_one_login_sign_in(one_login_stack):
    """No detail of the resident, and no raw core identity JWT, in any Redis key or value."""
    browser = requests.Session()
    attempt, params = sign_in_for_code(one_login_stack, "jane", session=browser)
    redeem(one_login_stack, params["code"], attempt.verifier, attempt.redirect_uri)
    everything = b""
    for key in one_login_stack.redis.scan_iter(f"{one_login_stack.prefix}*"):
        everything += key + b"\n"
        kind = one_login_stack.redis.type(key)
        if kind == b"string":
            everything += one_login_stack.redis.get(key) + b"\n"
        elif kind == b"set":
            everything += b"\n".join(one_login_stack.redis.smembers(key)) + b"\n"
    from broker.devtools.stub_onelogin.identities import IDENTITIES

    jane = IDENTITIES["jane"]
    name = " ".join(part["value"] for part in jane.credential_subject["name"][0]["nameParts"])
    birth_date = jane.credential_subject["birthDate"][0]["value"]
    for secret in (jane.sub, name, birth_date, browser.cookies.get("broker_session")):
        assert secret.encode() not in everything, secret


def test_a_councils_hashing_entity_id_gives_the_same_subject_through_one_login_and_its_session(
        one_login_stack_factory):
    """The hashed PID's second input is the council's hashing_entity_id on every path: the answer
    from One Login and a later sign-in from the broker session must give the app one `sub`."""
    from tests.oidc_client import query

    msa = "https://msa.test-borough.example.gov.uk/SAML2/metadata"
    stack = one_login_stack_factory(lambda ports: {
        "councils.test-borough.hashing_entity_id": msa})
    browser = requests.Session()
    attempt, params = sign_in_for_code(stack, "jane", session=browser)
    first = userinfo(stack, attempt, params)["sub"]
    again = authorize(stack, session=browser)
    assert again.response.status_code == 302, again.response.text  # from the broker session
    from_session = userinfo(stack, again, query(again.response.headers["Location"]))["sub"]
    assert first == from_session


def test_one_logins_error_description_is_logged_with_its_error(one_login_stack, caplog):
    from urllib.parse import urlencode, urlsplit

    session = requests.Session()
    attempt = authorize(one_login_stack, session=session)
    callback = urlsplit(answer_at_one_login(one_login_stack, session, attempt, "access-denied"))
    refused = callback._replace(query=urlencode({
        "error": "invalid_request", "error_description": "Request vtr not valid\nforged line",
        "state": query(callback.geturl())["state"]})).geturl()
    with caplog.at_level(logging.INFO, logger="broker"):
        shown = session.get(refused, timeout=10)  # the 303 to the failure page's own address
    assert 'data-page="hub-error"' in shown.text
    # The journey logs every upstream's failure in one form: "one_login answer unavailable: …".
    [line] = [r.getMessage() for r in caplog.records if "One Login answered" in r.getMessage()]
    assert "'invalid_request' ('Request vtr not validforged line')" in line
