"""No readable personal data in Redis (issue 19, ADR 0010): residents with distinctive details
signed in through every path, Redis scanned at every step; rotation in the middle of a sign-in;
tampered and moved values ending on the "start again" page or a standard OAuth error."""

from __future__ import annotations

import base64
import json
import re
import shutil
import uuid
from dataclasses import dataclass
from datetime import date

import lxml.html
import pytest
import requests

from broker.config import load_config
from broker.devtools.keys import DATA_KEY_FILE
from broker.identity import Address, MatchingDataset, MatchingValue
from broker.operations.keys import KeyManager
from tests import hub_messages
from tests.matching.conftest import (
    CREATION_URL,
    MATCHING_URL,
    calls_to,
    consent_to_account,
    match_answer,
)
from tests.oidc_client import AuthorizationAttempt, authorize, post_to_acs, query, redeem

pytestmark = pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)

MATCH = {"result": "match", "localAccountId": "TB-SEALED-MATCH-1"}
NO_MATCH = {"result": "no-match"}
CYCLE3_ANSWER = "73919264"
SHORTEST_BASE64_RUN = 6  # a shorter run could turn up by chance inside a random token


@dataclass
class Resident:
    """A fictional resident whose every detail is distinctive enough to be searched for."""

    pid: str
    dataset: MatchingDataset
    details: list[str]

    @classmethod
    def make(cls, n: int) -> Resident:
        tag = "ABCDEFGH"[n]
        first, middle = f"Zéphyrine{tag}", f"Ottolinë{tag}"
        surname, old_surname = f"Quillfeather{tag}", f"Brackenbury{tag}"
        born = date(1931, 2, 3 + n)
        line, old_line = f"{17 + n} Marramgrass Wynd", f"{40 + n} Sallowmere Lane"
        post_code, old_post_code = f"QX{n} 7ZW", f"ZJ{n} 4XK"
        pid = f"pid-sealing-{uuid.uuid4().hex}"
        dataset = MatchingDataset(
            first_names=(MatchingValue(first, True, born),),
            middle_names=(MatchingValue(middle, True),),
            surnames=(MatchingValue(old_surname, True, born, date(2001, 1, 1)),
                      MatchingValue(surname, True, date(2001, 1, 2))),
            dates_of_birth=(MatchingValue(born.isoformat(), True),),
            gender=MatchingValue("Female", True),
            current_addresses=(Address((line, "Fenwick Parva"), post_code, None, "906700123456",
                                       True, date(2016, 3, 1)),),
            previous_addresses=(Address((old_line,), old_post_code, None, None, True,
                                        date(1990, 1, 1), date(2016, 2, 28)),),
        )
        details = [first, middle, surname, old_surname, born.isoformat(), line, old_line,
                   post_code, old_post_code, pid, "906700123456"]
        return cls(pid, dataset, details)


def encodings(text: str) -> set[bytes]:
    """`text` as it could sit in Redis: plain, JSON-escaped, and base64 (standard and URL-safe)
    of either, at each of the three alignments inside a longer base64 text."""
    plain = text.encode()
    forms = {plain, json.dumps(text).encode()[1:-1], json.dumps(text, ensure_ascii=False).encode()[1:-1]}
    for raw in list(forms):
        for offset in range(3):
            total = offset + len(raw)
            for encode in (base64.b64encode, base64.urlsafe_b64encode):
                run = encode(b"\0" * offset + raw)[4 if offset else 0:4 * (total // 3)]
                if len(run) >= SHORTEST_BASE64_RUN:
                    forms.add(run)
    return forms


def key(stack, kind: str, ident: str) -> str:
    return stack.broker_app.extensions["broker"].state.key_for(kind, ident)


def redis_contents(stack) -> list[bytes]:
    contents = []
    for key in stack.redis.scan_iter(f"{stack.prefix}*"):
        contents.append(key)
        if stack.redis.type(key) == b"string":
            contents.append(stack.redis.get(key) or b"")
        else:  # anything else the stack keeps: every field and member
            contents.append(json.dumps(str(stack.redis.dump(key))).encode())
    return contents


def assert_nothing_readable(stack, details: list[str], moment: str) -> None:
    contents = redis_contents(stack)
    assert len(contents) > 2, f"{moment}: nothing in Redis to check"
    for detail in details:
        for form in encodings(detail):
            for item in contents:
                assert form not in item, f"{moment}: {detail!r} readable in Redis as {form!r}"


def hub_answer(stack, attempt: AuthorizationAttempt, resident: Resident,
               browser: requests.Session) -> requests.Response:
    saml_response = hub_messages.success(stack, attempt.authn_request_id, "jane",
                                         pid=resident.pid, dataset=resident.dataset)
    return post_to_acs(stack, saml_response, attempt.relay_state, session=browser)


def cycle3(stack, page: requests.Response, browser: requests.Session, answer: str = CYCLE3_ANSWER
           ) -> requests.Response:
    document = lxml.html.fromstring(page.text)
    fields = {e.get("name"): e.get("value") or ""
              for e in document.xpath('//form[@id="cycle3"]//input')}
    fields.update(answer=answer, action="continue")
    return browser.post(f"{stack.broker_url}/matching/cycle3", data=fields, allow_redirects=False,
                        timeout=10)


def pending_token(page: requests.Response) -> str:
    return lxml.html.fromstring(page.text).xpath('//form[@id="cycle3"]//input[@name="token"]/@value')[0]


def finish(stack, attempt, response, details: list[str], moment: str) -> dict:
    """The council app's side: code → tokens → userinfo, Redis scanned between each."""
    assert response.status_code == 302, response.text
    code = query(response.headers["Location"])["code"]
    assert_nothing_readable(stack, details, f"{moment}, code issued")
    tokens = redeem(stack, code, attempt.verifier, attempt.redirect_uri)
    assert tokens.status_code == 200, tokens.text
    tokens = tokens.json()
    assert_nothing_readable(stack, details, f"{moment}, access token issued")
    info = requests.get(f"{stack.broker_url}/userinfo", timeout=10,
                        headers={"Authorization": f"Bearer {tokens['access_token']}"})
    assert info.status_code == 200, info.text
    assert info.json().get("given_name") or info.json().get("family_name")
    return tokens


def test_no_personal_detail_is_readable_in_redis_at_any_step_of_any_path(matching_stack,
                                                                        matching_service):
    stack = matching_stack(cycle3=True, account_creation=True)
    ones, threes, creation = Resident.make(1), Resident.make(3), Resident.make(5)
    everything = ones.details + threes.details + creation.details + [
        CYCLE3_ANSWER, MATCH["localAccountId"], "TB-SEALED-NEW-1"]

    # Cycle 1: a match, which links the resident.
    browser = requests.Session()
    match_answer(matching_service, MATCH)
    attempt = authorize(stack, session=browser)
    assert_nothing_readable(stack, everything, "cycle 1, at the hub")
    tokens = finish(stack, attempt, hub_answer(stack, attempt, ones, browser), everything, "cycle 1")
    hashed_pid = json.loads(calls_to(matching_service)[0].request.body)["hashedPid"]
    everything.append(hashed_pid)
    assert_nothing_readable(stack, everything, "cycle 1, signed in")

    # Cycle 0: the same resident in another browser, already linked.
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    finish(stack, attempt, hub_answer(stack, attempt, ones, browser), everything, "cycle 0")
    assert len(calls_to(matching_service)) == 1

    # Single sign-on: that browser again, answered from its broker session.
    attempt = authorize(stack, session=browser)
    assert attempt.relay_state is None
    tokens = finish(stack, attempt, attempt.response, everything, "single sign-on")

    # Logout ends the session; nothing of it is left.
    session_key = key(stack, "session", browser.cookies['broker_session'])
    assert stack.redis.exists(session_key)
    logout = browser.get(f"{stack.broker_url}/logout", timeout=10, allow_redirects=False,
                         params={"id_token_hint": tokens["id_token"]})
    assert logout.status_code == 200 and not stack.redis.exists(session_key)
    assert_nothing_readable(stack, everything, "after logout")

    # Cycle 3: no match, the resident waits on the question, then a match.
    browser = requests.Session()
    match_answer(matching_service, NO_MATCH, MATCH)
    attempt = authorize(stack, session=browser)
    page = hub_answer(stack, attempt, threes, browser)
    assert page.status_code == 200 and 'id="cycle3"' in page.text
    assert_nothing_readable(stack, everything, "cycle 3, waiting for the answer")
    finish(stack, attempt, cycle3(stack, page, browser), everything, "cycle 3")

    # Account creation: no match at cycle 1 nor at cycle 3, then a new account.
    matching_service.reset()
    matching_service.add_passthru(re.compile(r"http://127\.0\.0\.1:\d+"))
    match_answer(matching_service, NO_MATCH, NO_MATCH)
    match_answer(matching_service, {"result": "success", "localAccountId": "TB-SEALED-NEW-1"},
                 url=CREATION_URL)
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    page = hub_answer(stack, attempt, creation, browser)
    assert_nothing_readable(stack, everything, "account creation, waiting for the answer")
    asked = cycle3(stack, page, browser)
    asked.browser = browser
    assert_nothing_readable(stack, everything, "account creation, waiting for the resident's yes")
    finish(stack, attempt, consent_to_account(stack, asked), everything, "account creation")
    assert len(calls_to(matching_service, CREATION_URL)) == 1
    assert len(calls_to(matching_service, MATCHING_URL)) == 2  # since the reset

    assert_nothing_readable(stack, everything, "at the end")


def test_the_scan_would_find_a_detail_stored_in_the_clear(matching_stack):
    """The check above is not blind: each encoding it looks for is found when present."""
    stack = matching_stack()
    resident = Resident.make(2)
    stack.redis.set(f"{stack.prefix}probe:plain", f"x{resident.details[0]}y".encode(), ex=60)
    stack.redis.set(f"{stack.prefix}probe:json", json.dumps({"n": resident.details[1]}), ex=60)
    stack.redis.set(f"{stack.prefix}probe:b64",
                    base64.b64encode(json.dumps({"a": resident.details[2]}).encode()), ex=60)
    for detail in resident.details[:3]:
        with pytest.raises(AssertionError, match="readable in Redis"):
            assert_nothing_readable(stack, [detail], "probe")


# Rotation in the middle of a sign-in

@pytest.fixture
def rotating_stack(matching_stack, tmp_path, keys_dir):
    """A stack with its own copy of the data key, and a way to restart its broker with whatever
    its configuration file now says (as `broker keys …` and a restart would)."""
    private = tmp_path / "data-keys"
    private.mkdir()
    shutil.copy(keys_dir / DATA_KEY_FILE, private / DATA_KEY_FILE)
    stack = matching_stack(cycle3=True, extra_overrides=lambda _ports: {
        "data_keys": [{"file": str(private / DATA_KEY_FILE)}]})

    def restart_with(step: str) -> None:
        getattr(KeyManager(stack.config.source, operator="test", environ={}), step)("data")
        reloaded = load_config(stack.config.source, environ={})
        stack.broker_app.extensions["broker"].state.sealer = reloaded.sealer()

    return stack, restart_with


def test_a_key_rotation_in_the_middle_of_a_sign_in_lets_it_complete(rotating_stack,
                                                                    matching_service):
    stack, restart_with = rotating_stack
    resident = Resident.make(4)
    match_answer(matching_service, NO_MATCH, MATCH)
    restart_with("generate")  # every process can open what the new key will seal
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    old_key = stack.redis.get(key(stack, "flow", attempt.relay_state)).split(b":")[2]
    restart_with("rotate")  # the flow was sealed with the old key, the rest with the new one
    page = hub_answer(stack, attempt, resident, browser)
    assert 'id="cycle3"' in page.text
    new_key = stack.redis.get(key(stack, "pending-match", pending_token(page))).split(b":")[2]
    assert new_key != old_key
    finish(stack, attempt, cycle3(stack, page, browser), resident.details, "after rotation")


def test_after_retiring_a_key_what_it_sealed_is_start_again_not_an_error(rotating_stack,
                                                                        matching_service):
    stack, restart_with = rotating_stack
    match_answer(matching_service, MATCH)
    restart_with("generate")
    attempt = authorize(stack)
    restart_with("rotate")
    restart_with("retire")  # too early: this flow was sealed with the retired key
    response = hub_answer(stack, attempt, Resident.make(6), requests.Session())
    assert response.status_code != 500 and 'data-page="session-expired"' in response.text
    assert calls_to(matching_service) == []


# Tampered and moved values

def tamper(stack, key: str) -> None:
    value = bytearray(stack.redis.get(key))
    value[-1] ^= 0x01
    stack.redis.set(key, bytes(value), keepttl=True)


def test_a_tampered_flow_gives_the_resident_the_start_again_page(matching_stack, matching_service):
    stack = matching_stack()
    attempt = authorize(stack)
    tamper(stack, key(stack, "flow", attempt.relay_state))
    response = hub_answer(stack, attempt, Resident.make(0), requests.Session())
    assert response.status_code != 500 and 'data-page="session-expired"' in response.text


def test_a_flow_moved_to_another_flows_key_is_refused(matching_stack, matching_service):
    """An attacker with Redis access copies their own flow over the victim's relay state."""
    stack = matching_stack()
    victim, attacker = authorize(stack), authorize(stack)
    stack.redis.copy(key(stack, "flow", attacker.relay_state),
                     key(stack, "flow", victim.relay_state), replace=True)
    response = hub_answer(stack, victim, Resident.make(0), requests.Session())
    assert 'data-page="session-expired"' in response.text


def test_a_tampered_cycle3_wait_gives_the_start_again_page(matching_stack, matching_service):
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH, MATCH)
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    page = hub_answer(stack, attempt, Resident.make(0), browser)
    tamper(stack, key(stack, "pending-match", pending_token(page)))
    response = cycle3(stack, page, browser)
    assert response.status_code != 500 and 'data-page="session-expired"' in response.text
    assert len(calls_to(matching_service)) == 1


def test_a_tampered_code_is_an_invalid_grant_for_the_council_app(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, MATCH)
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    code = query(hub_answer(stack, attempt, Resident.make(0), browser).headers["Location"])["code"]
    tamper(stack, key(stack, "code", code))
    response = redeem(stack, code, attempt.verifier, attempt.redirect_uri)
    assert response.status_code == 400 and response.json()["error"] == "invalid_grant"


def test_a_tampered_access_token_is_an_invalid_token_at_userinfo(matching_stack, matching_service):
    stack = matching_stack()
    match_answer(matching_service, MATCH)
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    code = query(hub_answer(stack, attempt, Resident.make(0), browser).headers["Location"])["code"]
    token = redeem(stack, code, attempt.verifier, attempt.redirect_uri).json()["access_token"]
    tamper(stack, key(stack, "token", token))
    response = requests.get(f"{stack.broker_url}/userinfo", timeout=10,
                            headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 401 and 'error="invalid_token"' in response.headers[
        "WWW-Authenticate"]


def test_a_session_moved_to_another_cookie_signs_nobody_in(matching_stack, matching_service):
    """Copying a resident's session under an id the attacker knows does not sign them in."""
    stack = matching_stack()
    match_answer(matching_service, MATCH)
    victim = requests.Session()
    attempt = authorize(stack, session=victim)
    hub_answer(stack, attempt, Resident.make(0), victim)
    attacker_id = "attacker-chosen-session-id"
    stack.redis.copy(key(stack, "session", victim.cookies['broker_session']),
                     key(stack, "session", attacker_id))
    attacker = requests.Session()
    attacker.cookies.set("broker_session", attacker_id)
    again = authorize(stack, session=attacker, prompt="none")
    assert query(again.response.headers["Location"])["error"] == "login_required"
    tamper(stack, key(stack, "session", victim.cookies['broker_session']))
    again = authorize(stack, session=victim, prompt="none")
    assert query(again.response.headers["Location"])["error"] == "login_required"


def test_no_key_name_gives_away_a_cookie_token_or_code_to_present_to_the_broker(
        matching_stack, matching_service):
    """Key names are readable by whoever reads Redis: a session id there would be a way in."""
    stack = matching_stack(cycle3=True)
    match_answer(matching_service, NO_MATCH, MATCH)
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    page = hub_answer(stack, attempt, Resident.make(7), browser)
    waiting = [attempt.relay_state, pending_token(page)]
    assert_nothing_readable(stack, waiting, "waiting on cycle 3")
    response = cycle3(stack, page, browser)
    code = query(response.headers["Location"])["code"]
    tokens = redeem(stack, code, attempt.verifier, attempt.redirect_uri).json()
    secrets_ = [browser.cookies["broker_session"], code, tokens["access_token"], *waiting]
    assert_nothing_readable(stack, secrets_, "signed in")
    assert stack.redis.exists(key(stack, "session", browser.cookies["broker_session"]))
