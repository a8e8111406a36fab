"""A minimal, independent OIDC client for tests: requests + PyJWT, nothing from the broker."""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
from dataclasses import dataclass, field
from urllib.parse import parse_qs, urljoin, urlparse

import jwt
import lxml.html
import requests

from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    return verifier, challenge.rstrip(b"=").decode()


@dataclass
class AuthorizationAttempt:
    """One /authorize request and what the broker answered."""

    response: requests.Response
    state: str
    nonce: str
    verifier: str
    redirect_uri: str
    saml_request: str | None = None
    relay_state: str | None = None
    session: requests.Session | None = None
    extra: dict = field(default_factory=dict)

    @property
    def authn_request_id(self) -> str:
        xml = base64.b64decode(self.saml_request).decode()
        return re.search(r'ID="([^"]+)"', xml).group(1)


# The browser that started each flow: the hub's answer goes back through it, as a real hub's
# auto-submitting form does, unless a test posts it from another browser on purpose.
_browser_of_flow: dict[str, requests.Session] = {}


def authorize(stack, session: requests.Session | None = None, **overrides) -> AuthorizationAttempt:
    session = session or requests.Session()
    verifier, challenge = pkce_pair()
    params = {
        "response_type": "code", "client_id": COUNCIL_CLIENT_ID,
        "redirect_uri": f"{stack.council_url}/callback", "scope": "openid profile address",
        "state": secrets.token_urlsafe(12), "nonce": secrets.token_urlsafe(12),
        "code_challenge": challenge, "code_challenge_method": "S256",
    }
    params.update(overrides)
    params = {k: v for k, v in params.items() if v is not None}
    response = session.get(f"{stack.broker_url}/authorize", params=params,
                           allow_redirects=False, timeout=10)
    attempt = AuthorizationAttempt(response, params.get("state"), params.get("nonce"), verifier,
                                   params.get("redirect_uri"), session=session)
    if response.status_code == 200 and 'id="hub-handoff"' in response.text:
        document = lxml.html.fromstring(response.text)
        attempt.saml_request = document.xpath('//input[@name="SAMLRequest"]/@value')[0]
        attempt.relay_state = document.xpath('//input[@name="RelayState"]/@value')[0]
        _browser_of_flow[attempt.relay_state] = session
    response.browser = session
    return attempt


def post_to_acs(stack, saml_response_b64: str, relay_state: str,
                session: requests.Session | None = None) -> requests.Response:
    """The hub's answer posted from `session` (by default the browser that started the flow),
    and the broker's 303 to its same-site continuation followed there (and on to the extra
    question's page, or the page that ends the sign-in): returns the broker's last answer (a 302
    to the council app, a page, or the 303 to the account question). `response.browser` is the browser."""
    browser = session or _browser_of_flow.get(relay_state) or requests.Session()
    response = browser.post(f"{stack.broker_url}/saml/acs",
                            data={"SAMLResponse": saml_response_b64, "RelayState": relay_state},
                            allow_redirects=False, timeout=10)
    if response.status_code == 303:
        response = browser.get(urljoin(response.url, response.headers["Location"]),
                               allow_redirects=False, timeout=10)
    # on to the extra question's page or a page that ends the sign-in (reloadable: issue 26)
    while response.status_code == 303 and any(
            path in response.headers["Location"] for path in ("/matching/cycle3?", "/page/")):
        response = browser.get(urljoin(response.url, response.headers["Location"]),
                               allow_redirects=False, timeout=10)
    response.browser = browser
    return response


def shown_page(browser: requests.Session, response: requests.Response) -> requests.Response:
    """The page at its own address after a form or a single-use step (an answer, a callback):
    the broker's 303 to a page that ends the sign-in, or back to the extra question with its
    error, followed as a browser does (ADR 23). Anything else (a 302 to the council app, the
    303 to the account question, a page) as it came."""
    if response.status_code == 303 and any(
            path in response.headers.get("Location", "") for path in ("/page/",
                                                                      "/matching/cycle3?")):
        return browser.get(urljoin(response.url, response.headers["Location"]),
                           allow_redirects=False, timeout=10)
    return response


def query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlparse(url).query).items()}


def redeem(stack, code: str, verifier: str, redirect_uri: str,
           auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET)) -> requests.Response:
    return requests.post(f"{stack.broker_url}/token", auth=auth, timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier})


def validate_id_token(stack, id_token: str, nonce: str) -> dict:
    discovery = requests.get(f"{stack.broker_url}/.well-known/openid-configuration",
                             timeout=10).json()
    signing_key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(id_token)
    claims = jwt.decode(id_token, signing_key.key,
                        algorithms=discovery["id_token_signing_alg_values_supported"],
                        audience=COUNCIL_CLIENT_ID, issuer=discovery["issuer"],
                        options={"require": ["exp", "iat", "iss", "aud", "sub"]})
    assert claims["nonce"] == nonce
    return claims


def client_assertion(stack, client_id: str, key, audience: str | None = None, **claims) -> str:
    """A private_key_jwt assertion (RFC 7523), built with PyJWT from the client's own key."""
    now = int(time.time())
    payload = {"iss": client_id, "sub": client_id, "aud": audience or f"{stack.broker_url}/token",
               "jti": secrets.token_urlsafe(12), "iat": now, "exp": now + 60}
    payload.update(claims)
    return jwt.encode(payload, key.as_pem(private=True), algorithm="ES256",
                      headers={"kid": key.kid})


def redeem_with_assertion(stack, code: str, verifier: str, redirect_uri: str, assertion: str
                          ) -> requests.Response:
    return requests.post(f"{stack.broker_url}/token", timeout=10, data={
        "grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri,
        "code_verifier": verifier, "client_assertion": assertion,
        "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"})


def sign_in(stack, session: requests.Session | None = None, identity: str = "jane",
            **authorize_params) -> tuple[AuthorizationAttempt, dict[str, str]]:
    """/authorize, then the hub's answer for that flow; returns the callback's parameters."""
    from tests import hub_messages

    session = session or requests.Session()
    attempt = authorize(stack, session=session, **authorize_params)
    if attempt.relay_state is None:  # answered without the hub (a broker session, or an error)
        assert attempt.response.status_code == 302, attempt.response.text
        return attempt, query(attempt.response.headers["Location"])
    answer = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id, identity),
                         attempt.relay_state, session=session)
    assert answer.status_code == 302, answer.text
    return attempt, query(answer.headers["Location"])
