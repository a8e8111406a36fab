"""Gives python3-saml's time checks the broker's clock skew, which the library does not offer.

python3-saml compares a bearer SubjectConfirmationData's `NotOnOrAfter` (and an AuthnStatement's
`SessionNotOnOrAfter`) with the exact current time, while its Conditions check allows a fixed
300 s. GOV.UK Verify's profile wants one configurable skew (default 30 s) everywhere. The
broker applies that skew precisely in its own checks (broker.hub.responses); here it only makes
python3-saml's expiry checks no stricter than ours, by letting the library read a clock that is
`behind` seconds slow while it validates one Response.

Only python3-saml's response module sees the slowed clock (its module-level name for the
utilities class is replaced by a subclass), and the offset is per thread and zero outside
`clock_behind`, so nothing else in the process observes a change.
"""

from __future__ import annotations

import calendar
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime

from onelogin.saml2 import response as _response_module
from onelogin.saml2.utils import OneLogin_Saml2_Utils

_offset = threading.local()
_SAML_TIME = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})T([0-9]{2}):([0-9]{2}):([0-9]{2})"
                        r"(?:\.[0-9]*)?Z?")


def parse_saml_time(text: str) -> int:
    """python3-saml's `parse_SAML_to_time` (seconds, fraction dropped, same errors) without its
    three strptime attempts, which cost a tenth of a millisecond per time in every Response.
    What the pattern does not cover goes to the library's own function."""
    match = _SAML_TIME.fullmatch(text) if isinstance(text, str) else None
    if match is None:
        return OneLogin_Saml2_Utils.parse_SAML_to_time(text)
    moment = datetime(*(int(part) for part in match.groups()))  # ValueError as strptime's
    return calendar.timegm(moment.utctimetuple())


class _SkewedUtils(OneLogin_Saml2_Utils):
    @staticmethod
    def now() -> int:
        return OneLogin_Saml2_Utils.now() - getattr(_offset, "seconds", 0)

    parse_SAML_to_time = staticmethod(parse_saml_time)


_response_module.OneLogin_Saml2_Utils = _SkewedUtils


@contextmanager
def clock_behind(seconds: int) -> Iterator[None]:
    """Within the block, python3-saml's response checks on this thread see now - seconds."""
    previous = getattr(_offset, "seconds", 0)
    _offset.seconds = seconds
    try:
        yield
    finally:
        _offset.seconds = previous
