"""Fixtures for matching: link stores on SQLite and a real PostgreSQL, a mocked council service.

PostgreSQL: BROKER_TEST_DATABASE_URL (set by scripts/with-test-services), else the server on
127.0.0.1:5432. Every test gets its own schema there, dropped afterwards; nobody else's data is
touched.
"""

from __future__ import annotations

import os
import re
import uuid
from collections.abc import Iterator
from urllib.parse import urljoin

import lxml.html
import pytest
import requests
import responses
from sqlalchemy import text

from broker.matching.database import make_engine, upgrade
from broker.matching.links import LinkStore
from tests import hub_messages
from tests.oidc_client import authorize, post_to_acs, shown_page

MATCHING_URL = "https://matching.test-borough.example/match"
CREATION_URL = "https://matching.test-borough.example/create-account"
MATCHING_TOKEN = "test-matching-token"
CONTACT = {"phone": "0300 555 0100", "email": "help@test-borough.example"}
CYCLE3 = {
    "attribute": "council_tax_reference",
    "label": {"en": "What is your council tax reference?",
              "cy": "Beth yw eich cyfeirnod treth gyngor?"},
    "hint": {"en": "8 digits, on your council tax bill.",
             "cy": "8 digid, ar eich bil treth gyngor."},
    "pattern": "^[0-9]{8}$",
}


def postgres_url() -> str:
    return os.environ.get("BROKER_TEST_DATABASE_URL",
                          "postgresql://postgres@127.0.0.1:5432/test")


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request, tmp_path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a private schema on the real PostgreSQL."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'links.sqlite3'}"
        return
    admin = make_engine(postgres_url())
    schema = f"test_matching_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - say what is missing, as the Redis fixture does
        pytest.fail(f"the tests need a real PostgreSQL at {postgres_url()} (run them with "
                    f"`make test`): {exc}")
    separator = "&" if "?" in postgres_url() else "?"
    yield f"{postgres_url()}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


@pytest.fixture
def link_store(database_url) -> Iterator[LinkStore]:
    engine = make_engine(database_url)
    upgrade(engine)
    yield LinkStore(engine)
    engine.dispose()


@pytest.fixture
def matching_service() -> Iterator[responses.RequestsMock]:
    """The council's matching service, mocked; calls to the local test servers pass through."""
    with responses.RequestsMock(assert_all_requests_are_fired=False) as mock:
        mock.add_passthru(re.compile(r"http://127\.0\.0\.1:\d+"))
        yield mock


def matching_config(cycle3: bool = False, account_creation: bool | dict = False,
                    timeout_seconds: float = 2, account_creation_attributes: list | None = None,
                    **changes) -> dict:
    config = {"service_url": MATCHING_URL, "bearer_token": MATCHING_TOKEN,
              "timeout_seconds": timeout_seconds, "contact": CONTACT}
    if cycle3:
        config["cycle3"] = CYCLE3
    if isinstance(account_creation, dict):  # written out, e.g. with the consent settings
        config["account_creation"] = account_creation
    elif account_creation:
        config["account_creation"] = {"url": CREATION_URL}
        if account_creation_attributes:
            config["account_creation"]["attributes"] = account_creation_attributes
    config.update(changes)
    return config


@pytest.fixture
def matching_stack(stack_factory, database_url):
    """`matching_stack(cycle3=…, account_creation=…)`: a running stack whose council matches."""

    def build(**options):
        extra = options.pop("extra_overrides", None)

        def changes(ports):
            return {"councils.test-borough.matching": matching_config(**options),
                    "database": {"url": database_url, "auto_upgrade": True},
                    **(extra(ports) if extra else {})}

        return stack_factory(changes)

    return build


def stack_links(stack) -> LinkStore:
    return stack.broker_app.extensions["broker"].matching.links


def acs_answer(stack, identity: str = "jane", **authorize_params):
    """The broker's answer at the ACS for a fresh sign-in of `identity` (no redirects followed)."""
    attempt = authorize(stack, **authorize_params)
    response = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id, identity),
                           attempt.relay_state)
    return attempt, response


def consent_page(stack, response) -> requests.Response:
    """The account-creation question the broker sent the browser to (a 303), opened there."""
    assert response.status_code == 303, response.text
    assert "/matching/create-account?token=" in response.headers["Location"]
    browser = response.browser
    page = browser.get(urljoin(f"{stack.broker_url}/", response.headers["Location"]),
                       allow_redirects=False, timeout=10)
    page.browser = browser
    return page


def answer_consent(stack, page, answer: str) -> requests.Response:
    """The resident's answer ("yes" or "no") on the account-creation page."""
    document = lxml.html.fromstring(page.text)
    fields = {i.get("name"): i.get("value") for i in document.xpath('//form[@id="consent"]//input')}
    response = shown_page(page.browser, page.browser.post(
        f"{stack.broker_url}/matching/create-account", data={**fields, "answer": answer},
        allow_redirects=False, timeout=10))
    response.browser = page.browser
    return response


def consent_to_account(stack, response, answer: str = "yes") -> requests.Response:
    """From the broker's 303 to the question, to its answer after the resident's choice."""
    return answer_consent(stack, consent_page(stack, response), answer)


def match_answer(mock, *bodies_or_statuses, url: str = MATCHING_URL) -> None:
    """Queues the service's answers in order: a dict is a 200 JSON body, an int a bare status,
    an exception is raised as the transport failure."""
    for item in bodies_or_statuses:
        if isinstance(item, dict):
            mock.add(responses.POST, url, json=item, status=200)
        elif isinstance(item, int):
            mock.add(responses.POST, url, body="", status=item)
        else:
            mock.add(responses.POST, url, body=item)


def calls_to(mock, url: str = MATCHING_URL) -> list:
    return [call for call in mock.calls if call.request.url == url]
