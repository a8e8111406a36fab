"""The demo council's local matching service (development only), built as a council built one
for GOV.UK Verify: to the Matching Service Adapter's legacy JSON contract, answering a bare
`{"result": "match"}`, and remembering which hashed PID it matched to which record, so that the
council's app knows the resident by the hashed PID it receives as `sub` (ADR 0009).

Over a few local records, every branch of the broker's matching pipeline shows in `make demo`
with the stub hub's identities:

- Jane Doe:  matches at cycle 1 (surname, date of birth and verified current postcode agree).
- Sam Mover: needs cycle 3: his newest address is not verified yet, so cycle 1 finds no match;
             answering council tax reference 40012345 on the broker's page matches him.
- Дмитрий Иванов: no record; after any 8-digit answer to the extra question (no match again),
             account creation gives him a new account.
- Lee One:   never matched: no record, and the council creates accounts only at LEVEL_2 or above,
             so after the extra question he meets the "we could not find your record" page.
"""

from __future__ import annotations

import hmac
import itertools
import threading
from dataclasses import dataclass
from typing import Any

from flask import Flask, jsonify, request, session
from markupsafe import escape

CYCLE3_ATTRIBUTE = "council_tax_reference"
CYCLE3_DEMO_ANSWER = "40012345"
CREATION_LEVELS = ("LEVEL_2", "LEVEL_3", "LEVEL_4")


@dataclass(frozen=True)
class LocalRecord:
    account_id: str
    surname: str
    date_of_birth: str
    post_code: str
    council_tax_reference: str


RECORDS = (
    LocalRecord("DBC-100001", "Doe", "1980-05-01", "AB12CD", "40000001"),
    LocalRecord("DBC-100002", "Mover", "1975-02-14", "FL22BB", CYCLE3_DEMO_ANSWER),
)


def _postcode(value: str | None) -> str:
    return (value or "").replace(" ", "").upper()


def record_matches(record: LocalRecord, body: dict[str, Any]) -> bool:
    """Surname and date of birth, then a verified current address (no `toDate`) or the cycle 3
    answer: the kind of rule Verify's example services used."""
    dataset = body["matchingDataset"]
    surnames = {v.get("value", "").casefold() for v in dataset.get("surnames", [])}
    born = (dataset.get("dateOfBirth") or {}).get("value")
    if record.surname.casefold() not in surnames or born != record.date_of_birth:
        return False
    current = {_postcode(a.get("postCode")) for a in dataset.get("addresses", [])
               if "toDate" not in a and a.get("verified")}
    if record.post_code in current:
        return True
    answers = (body.get("cycle3Dataset") or {}).get("attributes") or {}
    return answers.get(CYCLE3_ATTRIBUTE) == record.council_tax_reference


def register_matching_service(app: Flask, bearer_token: str | None) -> None:
    accounts: dict[str, str] = {}  # hashed PID → account, as the council's datastore keeps it
    app.extensions["council_accounts"] = accounts  # the app's account page reads it by `sub`
    numbers = itertools.count(200001)
    lock = threading.Lock()

    def authorised() -> bool:
        if not bearer_token:
            return True
        given = request.headers.get("Authorization", "")
        return hmac.compare_digest(given.encode(), f"Bearer {bearer_token}".encode())

    @app.post("/matching/match")
    def match():
        if not authorised():
            return jsonify(error="unauthorised"), 401
        body = request.get_json(silent=True)
        if (not isinstance(body, dict) or not isinstance(body.get("hashedPid"), str)
                or not isinstance(body.get("matchingDataset"), dict)):
            return jsonify(error="bad request"), 400
        with lock:
            if body["hashedPid"] in accounts:  # Verify's cycle 0, at the council
                return jsonify(result="match")
        found = [r for r in RECORDS if record_matches(r, body)]
        if len(found) != 1:  # two records alike are no match: the extra question may tell them apart
            return jsonify(result="no-match")
        with lock:
            accounts[body["hashedPid"]] = found[0].account_id
        return jsonify(result="match")

    @app.post("/matching/create-account")
    def create_account():
        if not authorised():
            return jsonify(error="unauthorised"), 401
        body = request.get_json(silent=True)
        if not isinstance(body, dict) or not isinstance(body.get("hashedPid"), str):
            return jsonify(error="bad request"), 400
        if body.get("levelOfAssurance") not in CREATION_LEVELS:
            return jsonify(result="failure")
        with lock:
            accounts.setdefault(body["hashedPid"], f"DBC-{next(numbers)}")
        return jsonify(result="success")

    @app.get("/records")
    def records():
        """What the demo council holds, who needs what to be matched, and who is signed in."""
        resident = session.get("resident") or {}
        with lock:
            account = accounts.get(resident.get("sub", ""))
        rows = "".join(f"<tr><td>{r.account_id}</td><td>{r.surname}</td><td>{r.date_of_birth}</td>"
                       f"<td>{r.post_code}</td><td>{r.council_tax_reference}</td></tr>" for r in RECORDS)
        return (
            "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>Demo council records"
            "</title></head><body><h1>Demo council's local records</h1>"
            "<table><tr><th>Account</th><th>Surname</th><th>Date of birth</th><th>Postcode</th>"
            f"<th>Council tax reference</th></tr>{rows}</table><ul>"
            "<li>Jane Doe matches at cycle 1.</li>"
            f"<li>Sam Mover needs the extra question: answer council tax reference "
            f"<strong id='cycle3-answer'>{CYCLE3_DEMO_ANSWER}</strong>.</li>"
            "<li>Дмитрий Иванов has no record: answer any 8 digits to the extra question and he is "
            "given a new account.</li>"
            "<li>Lee One (LEVEL_1) is never matched: after the extra question, no account is created "
            "(the council creates accounts only at LEVEL_2).</li>"
            "</ul><p>The matching service answers only <code>{\"result\": \"match\"}</code>, as "
            "GOV.UK Verify's did, and remembers which hashed PID it matched to which record; the "
            "council app finds the record by the <code>sub</code> it receives, which is that "
            "hashed PID.</p>"
            f"<p>Signed-in local account: <span id='local-account-id'>"
            f"{escape(account or 'none')}</span></p><p><a href='/'>Back</a></p>"
            "</body></html>")
