"""Every upstream plug-in as the sign-in suite drives it: one entry per plug-in.

A new plug-in joins tests/journey/test_every_upstream.py by adding its entry to `UPSTREAMS`: the
name of the fixture that starts a broker on it (with its stub), the scripted resident who signs
in through it at the demo council app (tests/council_app.py), the fixture that builds such a broker
with more configuration, and its stub's choice for each protocol-neutral outcome it can produce."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import requests

from tests.council_app import (
    sign_in_through_one_login,
    sign_in_through_openid_ida,
    sign_in_through_the_hub,
)


@dataclass(frozen=True)
class UpstreamUnderTest:
    name: str
    stack_fixture: str
    sign_in: Callable[..., requests.Response]  # (stack, choice=None, browser=None) → last page
    # a fixture giving build(changes), where changes(ports) → more write_config overrides
    factory_fixture: str
    # FailureKind value → the stub's choice that produces it
    failures: dict[str, str] = field(default_factory=dict)


UPSTREAMS = [
    UpstreamUnderTest(
        "verify", "stack", sign_in_through_the_hub, "stack_factory",
        failures={"cancelled": "cancel", "authentication-failed": "authn-failed",
                  "pending": "loa-pending", "login-required": "no-passive",
                  "fraud": "fraud", "unavailable": "requester-error"}),
    UpstreamUnderTest(
        "one_login", "one_login_stack", sign_in_through_one_login,
        "one_login_stack_factory",
        failures={"cancelled": "access-denied", "not-proven": "not-proven",
                  "unavailable": "temporarily-unavailable"}),
    UpstreamUnderTest(
        "openid_ida", "ida_stack", sign_in_through_openid_ida, "ida_stack_factory",
        failures={"cancelled": "access-denied", "not-proven": "not-proven",
                  "fraud": "fraud", "unavailable": "server-error"}),
]

FAILURE_CASES = [(upstream, kind, choice) for upstream in UPSTREAMS
                 for kind, choice in upstream.failures.items()]
