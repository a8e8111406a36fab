"""A hub message that is not a valid answer to its flow. The hub's own failures (a status
other than Success, levelX) are the upstream interface's `UpstreamFailure`s."""

from __future__ import annotations


class ResponseRejected(Exception):
    """The message is not a valid answer from the hub to this flow; never becomes a sign-in."""


class NotThisRequest(ResponseRejected):
    """InResponseTo names another AuthnRequest than the one expected for the RelayState."""
