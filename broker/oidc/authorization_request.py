"""The checks an authorization request must pass before anything is stored or the hub is asked.

Everything the broker would refuse later is refused here, at /authorize (or /par), so a
resident never goes through the hub for a request that cannot succeed:
- `response_type` missing is `invalid_request`; anything but `code` is `unsupported_response_type`
  (RFC 6749 4.1.2.1), described without repeating the value sent.
- `response_mode` other than `query` (the only mode in discovery) is `invalid_request`.
- a scope without `openid` is `invalid_scope`: this is an OpenID Provider only (Core 3.1.2.1).
- `request` is `request_not_supported` and `request_uri` other than one of our PAR references is
  `request_uri_not_supported` (Core 6.1, 6.2): ignoring them would drop what the client signed.

It also bounds what a flow stores in Redis: only the parameters the journey uses are kept, each
within a length, and all of them within `MAX_STORED_REQUEST` characters. One POST of dozens of
large parameters would otherwise hold hundreds of kilobytes for the flow's lifetime.
"""

from __future__ import annotations

from authlib.oauth2.rfc6749.errors import (
    InvalidRequestError,
    InvalidScopeError,
    OAuth2Error,
    UnsupportedResponseTypeError,
)
from authlib.oidc.core.errors import RequestNotSupportedError, RequestURINotSupportedError

PAR_REQUEST_URI_PREFIX = "urn:ietf:params:oauth:request_uri:"
SUPPORTED_RESPONSE_MODES = ("query",)

# The parameters a flow keeps, each with its longest accepted value (characters).
STORED_PARAMETERS = {
    "response_type": 32,
    "client_id": 128,
    "redirect_uri": 2048,
    "scope": 256,
    "state": 1024,
    "nonce": 255,
    "code_challenge": 128,
    "code_challenge_method": 16,
    "claims": 4096,
    "acr_values": 512,
    "prompt": 64,
    "max_age": 10,
    "ui_locales": 64,
    "response_mode": 16,
}
MAX_STORED_REQUEST = 6144


class _Refusal(OAuth2Error):
    """An OAuth error whose description is ours alone, never the value the client sent."""

    def __init__(self, error: OAuth2Error, description: str):
        super().__init__(description=description)
        self.error = error.error
        self.status_code = error.status_code


def check_authorization_request(params: dict[str, str]) -> dict[str, str]:
    """Raises the OAuth error the request deserves; returns the parameters a flow may store."""
    if "request" in params:
        raise RequestNotSupportedError(description="request objects are not supported")
    if params.get("request_uri") and not params["request_uri"].startswith(
            PAR_REQUEST_URI_PREFIX):
        raise RequestURINotSupportedError(
            description="'request_uri' is accepted only from the pushed authorization endpoint")
    response_type = params.get("response_type", "")
    if not response_type:
        raise InvalidRequestError("missing 'response_type'")
    if response_type != "code":
        raise _Refusal(UnsupportedResponseTypeError(""), "only response_type=code is supported")
    if params.get("response_mode", "query") not in SUPPORTED_RESPONSE_MODES:
        raise InvalidRequestError("only response_mode=query is supported")
    if "openid" not in params.get("scope", "").split():
        raise InvalidScopeError(description="the scope must include 'openid'")
    return bounded(params)


def bounded(params: dict[str, str]) -> dict[str, str]:
    """The parameters a flow keeps, refused with `invalid_request` when one is too long."""
    stored = {name: value for name, value in params.items() if name in STORED_PARAMETERS}
    for name, value in stored.items():
        if len(value) > STORED_PARAMETERS[name]:
            raise InvalidRequestError(
                f"'{name}' is longer than {STORED_PARAMETERS[name]} characters")
    if sum(len(name) + len(value) for name, value in stored.items()) > MAX_STORED_REQUEST:
        raise InvalidRequestError("the authorization request is too large")
    return stored
