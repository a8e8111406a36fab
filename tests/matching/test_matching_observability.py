"""Matching as operators see it: outcomes counted per council and cycle, and no personal data
in the logs even when the council's matching service is called."""

from __future__ import annotations

import logging

import requests

from broker.observability import JsonFormatter
from tests.matching.conftest import acs_answer, match_answer

MATCH = {"result": "match", "localAccountId": "TB-000123"}


def outcomes(stack, cycle: str, outcome: str) -> float:
    text = requests.get(f"{stack.broker_url}/metrics", timeout=10).text
    for line in text.splitlines():
        if (line.startswith("broker_matching_outcomes_total{") and f'cycle="{cycle}"' in line
                and f'outcome="{outcome}"' in line and 'council="test-borough"' in line):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_matching_outcomes_are_counted_per_cycle(matching_stack, matching_service):
    stack = matching_stack()
    matches, links = outcomes(stack, "1", "match"), outcomes(stack, "0", "match")
    match_answer(matching_service, MATCH)
    acs_answer(stack)
    acs_answer(stack)  # the second sign-in finds the link: cycle 0
    assert outcomes(stack, "1", "match") == matches + 1
    assert outcomes(stack, "0", "match") == links + 1


def test_matching_logs_carry_no_personal_data(matching_stack, matching_service, caplog):
    caplog.set_level(logging.DEBUG)
    stack = matching_stack()
    match_answer(matching_service, MATCH)
    acs_answer(stack, identity="dmitri")
    formatter = JsonFormatter()
    captured = "\n".join(formatter.format(r) for r in caplog.records if r.name != "werkzeug")
    assert "sign-in matched" in captured
    for value in ("Дмитрий", "Иванов", "1988-08-08", "ST7 7ST", "Station Road", "stub-pid-dmitri"):
        assert value not in captured
