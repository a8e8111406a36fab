"""What reading a hub Response ends in, besides a verified identity: the hub's own failure
(each with its resident page and OIDC error) or a rejection of the message itself."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class FailureReason(enum.Enum):
    """Why a sign-in did not produce a verified identity; each has its own resident page."""

    CANCELLED = "cancelled"
    AUTHN_FAILED = "authn-failed"
    LOA_PENDING = "loa-pending"
    LEVEL_NOT_MET = "level-not-met"
    NO_PASSIVE = "no-passive"
    HUB_ERROR = "hub-error"
    REJECTED = "rejected"
    # levelX: the identity provider reported a fraud event. Never a success, and never "try a
    # stronger check": the resident gets a neutral page.
    FRAUD_EVENT = "not-verified"

    @property
    def oidc_error(self) -> str:
        return {
            FailureReason.CANCELLED: "access_denied",
            FailureReason.AUTHN_FAILED: "access_denied",
            FailureReason.LOA_PENDING: "access_denied",
            FailureReason.LEVEL_NOT_MET: "access_denied",
            FailureReason.NO_PASSIVE: "login_required",
            FailureReason.HUB_ERROR: "temporarily_unavailable",
            FailureReason.REJECTED: "access_denied",
            FailureReason.FRAUD_EVENT: "access_denied",
        }[self]


@dataclass(frozen=True)
class HubFailure:
    reason: FailureReason
    detail: str

    @property
    def oidc_error(self) -> str:
        return self.reason.oidc_error


class ResponseRejected(Exception):
    """The message is not a valid answer from the hub to this flow; never becomes a sign-in."""
