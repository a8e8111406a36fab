"""The checks every upstream's answer passes, whatever its protocol: run once, by the journey.

A new upstream cannot forget one of them (One Login's answers once skipped `max_age` and
`prompt=login`, which the SAML path made: issue 24 item 7). What only a protocol knows
(signatures, audiences, nonces, `InResponseTo`) stays in its plug-in; replay of the answer's
identifiers is marked in Redis by the journey once these pass.
"""

from __future__ import annotations

from broker.identity import Flow
from broker.upstreams.interface import FailureKind, UpstreamAnswer, UpstreamFailure

# How old an answer may be when it arrives (verify-service-provider's InstantValidator allows
# five minutes), on top of the upstream's clock skew.
MAX_ANSWER_AGE_SECONDS = 300


def check_answer(answer: UpstreamAnswer, flow: Flow, now: float, skew: int
                 ) -> UpstreamFailure | None:
    """None when the answer may sign the resident in for `flow`, else why not."""
    rejected = _freshness(answer, now, skew) or _authentication_time(answer, flow, now, skew)
    if rejected:
        return UpstreamFailure(FailureKind.REJECTED, rejected)
    if answer.level.value < flow.minimum_level.value:
        return UpstreamFailure(FailureKind.NOT_PROVEN, f"proved {answer.level.name}, the flow "
                                                       f"required {flow.minimum_level.name}")
    return None


def _freshness(answer: UpstreamAnswer, now: float, skew: int) -> str | None:
    if answer.issued_at > now + skew:
        return "the answer is issued in the future"
    if answer.issued_at < now - skew - MAX_ANSWER_AGE_SECONDS:
        return "the answer is too old"
    return None


def _authentication_time(answer: UpstreamAnswer, flow: Flow, now: float, skew: int
                         ) -> str | None:
    """When the council asked for fresh authentication (`prompt=login`, `max_age`: OIDC Core
    3.1.2.1), the resident's authentication must be fresh enough, and said."""
    auth_time = answer.auth_time
    if auth_time is not None and auth_time > now + skew:
        return "the resident's authentication time is in the future"
    params = flow.authorize_params
    if "login" in (params.get("prompt") or "").split():
        if auth_time is None:
            return "prompt=login, and the answer does not say when the resident authenticated"
        if auth_time < flow.created_at - skew:
            return "the resident authenticated before this sign-in began (prompt=login)"
    max_age = params.get("max_age")
    if max_age is not None and str(max_age).isdigit():
        if auth_time is None:
            return "max_age, and the answer does not say when the resident authenticated"
        if now - auth_time > int(max_age) + skew:
            return "the resident authenticated longer ago than the council's max_age"
    return None
