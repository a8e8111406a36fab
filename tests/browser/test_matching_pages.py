"""The matching pages a resident can meet (cycle 3 question, its error state, the question before
leaving it, the account question, record not found),
in a real browser, in English and Welsh, with axe on each; and each of them reloaded, as a mobile
browser does with a tab left in the background (issue 26). The council app plays its council's
matching and account-creation services, as in the demo."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import redis

from broker.devtools.council_app.matching import CYCLE3_DEMO_ANSWER
from tests.browser.conftest import choose_at_hub, start_sign_in
from tests.conftest import Stack, start_stack, stop_stack

QUESTION = {"en": "What is your council tax reference?",
            "cy": "Beth yw eich cyfeirnod treth gyngor?"}


def demo_matching(ports, directory) -> dict:
    """write_config overrides: the council matches through the council app's demo services,
    asks the extra question and may create an account; a fresh link store in `directory`."""
    council = ports.url("council")
    return {
        "councils.test-borough.matching": {
            "service_url": f"{council}/matching/match", "timeout_seconds": 5,
            "cycle3": {"attribute": "council_tax_reference", "label": QUESTION,
                       "hint": {"en": "8 digits, on your council tax bill.",
                                "cy": "8 digid, ar eich bil treth gyngor."},
                       "pattern": "^[0-9]{8}$"},
            "account_creation": {"url": f"{council}/matching/create-account",
                                 "attributes": ["first_name", "surname", "date_of_birth"]},
            "contact": {"phone": "0300 000 0000",
                        "email": "help@test-borough.example.gov.uk"},
        },
        "database": {"url": f"sqlite:///{directory}/links.sqlite3", "auto_upgrade": True},
        "clients.0.default_level": "LEVEL_1",  # as config/demo.yaml: Lee (LEVEL_1) may sign in
    }


@pytest.fixture
def stack(tmp_path_factory, keys_dir, redis_url) -> Iterator[Stack]:
    """A stack per test (a fresh link store: a matched resident would be cycle 0 next time);
    the council matches through the council app's demo services."""
    directory = tmp_path_factory.mktemp("browser-matching")
    stack, servers = start_stack(directory, keys_dir, redis_url, redis.Redis.from_url(redis_url),
                                 lambda ports: demo_matching(ports, directory),
                                 prefix_label="test-browser-matching")
    yield stack
    stop_stack(stack, servers)


def to_cycle3(resident, stack, identity: str, language: str):
    window = resident()
    start_sign_in(window, stack, language)
    choose_at_hub(window, identity)
    window.page.wait_for_url(re.compile(r"/matching/cycle3\?token="))  # its own address
    return window


@pytest.mark.parametrize("language", ["en", "cy"])
def test_cycle3_question_its_error_state_and_a_matching_answer(stack, resident, language):
    window = to_cycle3(resident, stack, "sam", language)
    page = window.page
    assert window.heading() == QUESTION[language]
    window.inspect("broker-cycle3", language)
    page.locator("#answer").fill("12-AB")
    page.locator("#continue").click()
    page.wait_for_load_state("load")
    summary = page.locator(".govuk-error-summary")
    assert summary.is_visible()
    # GOV.UK Frontend moves focus to the error summary, and its link leads to the field.
    assert page.evaluate("document.activeElement.closest('.govuk-error-summary') !== null")
    assert summary.locator("a").get_attribute("href") == "#answer"
    assert page.title().startswith("Error:" if language == "en" else "Gwall:")
    window.inspect("broker-cycle3-error", language)
    assert page.locator("#answer").input_value() == "12-AB"
    # Post/Redirect/Get: the error is at the question's own address, so a reload (a tab woken
    # from the background) shows it again and posts nothing (no "resubmit the form?" dialog).
    assert re.search(r"/matching/cycle3\?token=[^&]+$", page.url), page.url
    posts = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    page.on("dialog", lambda d: posts.append(f"dialog: {d.message}") or d.dismiss())
    reload(window, "cycle3", language)
    assert posts == []
    assert summary.is_visible() and page.locator("#answer-error").is_visible()
    assert page.evaluate("document.activeElement.closest('.govuk-error-summary') !== null")
    assert page.title().startswith("Error:" if language == "en" else "Gwall:")
    assert page.locator("#answer").input_value() == "12-AB"
    page.locator("#answer").fill(CYCLE3_DEMO_ANSWER)
    page.locator("#continue").click()
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Sam Mover"


@pytest.mark.parametrize("language", ["en", "cy"])
def test_record_not_found_shows_the_councils_contacts_and_a_way_back(stack, resident, language):
    window = to_cycle3(resident, stack, "lee", language)
    page = window.page
    page.locator("#answer").fill("12345678")
    page.locator("#continue").click()
    page.wait_for_load_state("load")
    page.locator("#consent-yes").click()  # the demo council cannot create Lee's account
    page.wait_for_load_state("load")
    assert page.locator("#council-contact").is_visible()
    window.inspect("broker-no-record", language)
    page.locator("#continue").click()
    page.wait_for_url(re.compile(re.escape(stack.council_url) + r"/callback\?error=access_denied"))


@pytest.mark.parametrize(("start", "switched"), [("en", "cy"), ("cy", "en")])
def test_cycle3_page_has_a_language_switch_and_the_sign_in_keeps_the_choice(stack, resident,
                                                                           start, switched):
    window = to_cycle3(resident, stack, "sam", start)
    page = window.page
    assert page.locator("#language-switch").count() == 1
    window.switch_language()
    assert window.heading() == QUESTION[switched]
    assert page.locator("html").get_attribute("lang") == switched
    window.inspect("broker-cycle3-switched", switched)
    page.locator("#answer").fill("12-AB")                 # the error state stays in that language
    page.locator("#continue").click()
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == switched
    page.locator("#answer").fill(CYCLE3_DEMO_ANSWER)
    page.locator("#continue").click()
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Sam Mover"


def test_cycle3_language_link_for_a_finished_sign_in_shows_session_expired(stack, resident):
    window = to_cycle3(resident, stack, "sam", "en")
    switch = window.page.locator("#language-switch").get_attribute("href")
    window.page.locator("#answer").fill(CYCLE3_DEMO_ANSWER)
    window.page.locator("#continue").click()
    window.page.wait_for_url(f"{stack.council_url}/")
    window.page.goto(stack.broker_url + switch)
    assert window.page.locator("[data-page=session-expired]").count() == 1


@pytest.mark.parametrize(("identity", "answer", "matching", "account"), [
    ("jane", None, "existing", "DBC-100001"),             # cycle 1
    ("sam", CYCLE3_DEMO_ANSWER, "existing", "DBC-100002"),  # cycle 3
    ("dmitri", "12345678", "new", "DBC-2")])              # account creation
def test_the_council_apps_account_page_shows_what_matching_produced(stack, resident, identity,
                                                                    answer, matching, account):
    window = resident()
    start_sign_in(window, stack, "en")
    choose_at_hub(window, identity)
    if answer:
        window.page.wait_for_url(re.compile(r"/matching/cycle3\?token="))
        window.page.locator("#answer").fill(answer)
        window.page.locator("#continue").click()
    if matching == "new":  # the resident agrees to the new account first
        window.page.wait_for_url(re.compile(r"/matching/create-account\?token="))
        window.page.locator("#consent-yes").click()
    window.page.wait_for_url(f"{stack.council_url}/")
    shown = window.page.locator("#local-account")
    assert shown.get_attribute("data-matching") == matching
    assert account in shown.inner_text()
    window.inspect(f"council-account-{matching}-{identity}", "en")


def to_consent(resident, stack, language: str):
    window = to_cycle3(resident, stack, "dmitri", language)
    window.page.locator("#answer").fill("99999999")
    window.page.locator("#continue").click()
    window.page.wait_for_url(re.compile(r"/matching/create-account\?token="))
    return window


@pytest.mark.parametrize("language", ["en", "cy"])
def test_yes_to_the_account_question_creates_the_account_and_signs_in(stack, resident, language):
    window = to_consent(resident, stack, language)
    page = window.page
    assert page.locator("[data-page=consent]").count() == 1
    window.inspect("broker-consent", language)
    page.locator("#consent-yes").click()
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Дмитрий Иванов"


def test_no_to_the_account_question_returns_access_denied_to_the_council_app(stack, resident):
    window = to_consent(resident, stack, "en")
    window.page.locator("#consent-no").click()
    window.page.wait_for_url(re.compile(re.escape(stack.council_url)
                                        + r"/callback\?error=access_denied"))
    assert window.heading() == "You have not been signed in"


def test_reloading_the_account_question_carries_on(stack, resident):
    window = to_consent(resident, stack, "en")
    page = window.page
    url = page.url
    page.reload()
    page.wait_for_load_state("load")
    assert page.url == url and page.locator("[data-page=consent]").count() == 1
    page.locator("#language-switch").click()   # and in Welsh, the same question
    page.wait_for_load_state("load")
    assert page.locator("html").get_attribute("lang") == "cy"
    page.reload()
    page.locator("#consent-yes").click()
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Дмитрий Иванов"


@pytest.mark.parametrize("language", ["en", "cy"])
def test_back_on_the_extra_question_asks_and_no_returns_to_it(stack, resident, language):
    window = to_cycle3(resident, stack, "sam", language)
    page = window.page
    page.locator("#back").click()
    page.wait_for_load_state("load")
    assert page.locator("[data-page=cycle3-leave]").count() == 1
    window.inspect("broker-cycle3-leave", language)
    page.locator("#keep-going").click()
    page.wait_for_load_state("load")
    assert window.heading() == QUESTION[language]
    page.locator("#answer").fill(CYCLE3_DEMO_ANSWER)
    page.locator("#continue").click()
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Sam Mover"


def test_back_on_the_extra_question_then_yes_stops_signing_in(stack, resident):
    window = to_cycle3(resident, stack, "sam", "en")
    page = window.page
    page.locator("#back").click()
    page.wait_for_load_state("load")
    page.locator("#stop").click()
    page.wait_for_load_state("load")
    assert page.locator("[data-page=matching-cancelled]").count() == 1
    page.locator("#continue").click()
    page.wait_for_url(re.compile(re.escape(stack.council_url) + r"/callback\?error=access_denied"))


def reload(window, page_name: str, language: str) -> None:
    """The browser reloads the page (a tab woken from the background): the same page comes back,
    in the same language, and nothing of the sign-in is lost."""
    url = window.page.url
    window.page.reload()
    window.page.wait_for_load_state("load")
    assert window.page.url == url
    assert window.page.locator(f"[data-page={page_name}]").count() == 1, window.page.title()
    assert window.page.locator("html").get_attribute("lang") == language


def reload_the_question_and_its_leave_page(window) -> None:
    """The extra question reloaded twice, then in Welsh; the leave page reloaded and left for
    the question again, reloaded once more: the same walk through whichever upstream."""
    page = window.page
    for _twice in range(2):
        reload(window, "cycle3", "en")
    assert window.heading() == QUESTION["en"]
    window.switch_language()
    reload(window, "cycle3", "cy")
    assert window.heading() == QUESTION["cy"]
    page.locator("#back").click()
    page.wait_for_load_state("load")
    reload(window, "cycle3-leave", "cy")
    assert "Do you want to stop" not in page.content()  # no English on a Welsh page
    page.locator("#keep-going").click()
    page.wait_for_load_state("load")
    reload(window, "cycle3", "cy")
    assert window.heading() == QUESTION["cy"]


def test_reloading_every_page_of_the_journey_with_the_extra_question_carries_on(stack, resident):
    """Hub, extra question, its language switch, the question before leaving it, the account
    question: each reloaded, twice, and the sign-in ends at the council app."""
    window = to_cycle3(resident, stack, "dmitri", "en")
    page = window.page
    reload_the_question_and_its_leave_page(window)
    page.go_back()  # the leave page, then the question again: both still carry the sign-in
    page.wait_for_load_state("load")
    assert page.locator("[data-page=cycle3-leave]").count() == 1
    page.go_forward()
    page.wait_for_load_state("load")
    page.locator("#answer").fill("99999999")
    page.locator("#continue").click()
    page.wait_for_url(re.compile(r"/matching/create-account\?token="))
    reload(window, "consent", "cy")
    page.locator("#consent-yes").click()
    page.wait_for_url(f"{stack.council_url}/")
    assert page.locator("#resident-name").inner_text() == "Дмитрий Иванов"
