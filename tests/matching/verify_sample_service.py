"""A local matching service as a council built one for GOV.UK Verify, written only from the
contract's documentation (verify-tech-docs) in the manner of Verify's sample services: it matches
on a surname or on a cycle 3 value, creates accounts at LEVEL_2, and answers nothing but
`{"result": …}`. A request that breaks the documented schema gets a 400, as a strict service
would give it, so a journey through this service fails if the broker strays from the contract.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, jsonify, request

from tests.matching.verify_contract import violations

MATCH_PATH = "/local-matching/match"
CREATION_PATH = "/local-matching/create-account"
KNOWN_SURNAMES = ("doe",)
CYCLE3_ATTRIBUTE = "council_tax_reference"
KNOWN_CYCLE3_VALUE = "40012345"


@dataclass
class ReceivedRequest:
    path: str
    body: Any
    problems: list[str]


@dataclass
class SampleMatchingService:
    """What the service was sent, in order (tests read it), and the Flask app that serves it."""

    url: str = ""  # where it listens, once served
    received: list[ReceivedRequest] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def bodies(self, path: str) -> list[Any]:
        with self.lock:
            return [r.body for r in self.received if r.path == path]

    def _receive(self, definition: str) -> tuple[Any, list[str]]:
        body = request.get_json(silent=True)
        problems = violations(definition, body) if body is not None else ["not JSON"]
        with self.lock:
            self.received.append(ReceivedRequest(request.path, body, problems))
        return body, problems

    def app(self) -> Flask:
        app = Flask(__name__)

        @app.post(MATCH_PATH)
        def match():
            body, problems = self._receive("legacyMatchRequest")
            if problems:
                return jsonify(error="request does not follow the legacy JSON schema"), 400
            surnames = {s["value"].casefold() for s in body["matchingDataset"].get("surnames", [])}
            answer = body.get("cycle3Dataset", {}).get("attributes", {}).get(CYCLE3_ATTRIBUTE)
            found = bool(surnames & set(KNOWN_SURNAMES)) or answer == KNOWN_CYCLE3_VALUE
            return jsonify(result="match" if found else "no-match")

        @app.post(CREATION_PATH)
        def create_account():
            body, problems = self._receive("accountCreationRequest")
            if problems:
                return jsonify(error="request does not follow the account creation contract"), 400
            return jsonify(result="success" if body["levelOfAssurance"] == "LEVEL_2" else "failure")

        return app
