"""`client_secret_post` (OIDC Core 9, RFC 6749 2.3.1) for clients registered with it, as certified
providers offer it: the client's id and secret in the token request's body. A client may use
only the method it was registered with: a `client_secret_basic` client's secret is refused in the
body, a `client_secret_post` client's in the Authorization header."""

from __future__ import annotations

import pytest
import requests

from broker.config import ConfigError, load_config
from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET, Ports, write_config
from tests.oidc.conftest import POST_CLIENT, SECRET
from tests.oidc_client import pkce_pair, sign_in


def token_request(stack, client_id: str, code: str | None = None, attempt=None,
                  **credentials) -> tuple[requests.Response, object, str]:
    """A code for `client_id` (a fresh one unless given), redeemed with `credentials` as
    requests' keyword arguments (`auth=` for the header, `secret=` for the body)."""
    if code is None:
        attempt, params = sign_in(stack, client_id=client_id)
        code = params["code"]
    data = {"grant_type": "authorization_code", "code": code,
            "redirect_uri": attempt.redirect_uri, "code_verifier": attempt.verifier}
    if "secret" in credentials:
        data.update(client_id=client_id, client_secret=credentials.pop("secret"))
    response = requests.post(f"{stack.broker_url}/token", data=data, timeout=10, **credentials)
    return response, attempt, code


def test_a_client_registered_for_client_secret_post_redeems_its_code_with_the_secret_in_the_body(
        oidc_stack):
    response, _, _ = token_request(oidc_stack, POST_CLIENT, secret=SECRET)
    assert response.status_code == 200, response.text
    assert {"access_token", "id_token"} <= set(response.json())


def test_a_client_registered_for_client_secret_post_cannot_use_the_authorization_header(
        oidc_stack):
    response, _, _ = token_request(oidc_stack, POST_CLIENT, auth=(POST_CLIENT, SECRET))
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_a_client_registered_for_client_secret_basic_cannot_send_its_secret_in_the_body(
        oidc_stack):
    response, _, _ = token_request(oidc_stack, COUNCIL_CLIENT_ID, secret=COUNCIL_CLIENT_SECRET)
    assert response.json()["error"] == "invalid_client"
    assert response.status_code in (400, 401)


def test_a_wrong_secret_in_the_body_is_refused_without_repeating_it(oidc_stack):
    response, _, _ = token_request(oidc_stack, POST_CLIENT, secret="not-the-secret")
    assert response.json()["error"] == "invalid_client"
    assert "not-the-secret" not in response.text


def test_the_secret_in_the_body_and_the_header_as_well_is_invalid_request(oidc_stack):
    response, _, _ = token_request(oidc_stack, POST_CLIENT, secret=SECRET,
                                auth=(POST_CLIENT, SECRET))
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_request"


def test_a_code_redeemed_with_client_secret_post_is_single_use(oidc_stack):
    response, attempt, code = token_request(oidc_stack, POST_CLIENT, secret=SECRET)
    assert response.status_code == 200
    again, _, _ = token_request(oidc_stack, POST_CLIENT, code, attempt, secret=SECRET)
    assert again.json()["error"] == "invalid_grant"


def test_a_client_secret_post_client_pushes_an_authorization_request(oidc_stack):
    _, challenge = pkce_pair()
    response = requests.post(f"{oidc_stack.broker_url}/par", timeout=10, data={
        "client_id": POST_CLIENT, "client_secret": SECRET, "response_type": "code",
        "scope": "openid", "redirect_uri": f"{oidc_stack.council_url}/callback",
        "code_challenge": challenge, "code_challenge_method": "S256"})
    assert response.status_code == 201, response.text
    assert response.json()["request_uri"].startswith("urn:ietf:params:oauth:request_uri:")


def test_discovery_advertises_client_secret_post(oidc_stack):
    document = requests.get(f"{oidc_stack.broker_url}/.well-known/openid-configuration",
                            timeout=10).json()
    assert set(document["token_endpoint_auth_methods_supported"]) == {
        "client_secret_basic", "client_secret_post", "private_key_jwt"}


@pytest.mark.parametrize("secret", [None, ""])
def test_a_client_secret_post_client_needs_a_secret(tmp_path, keys_dir, secret):
    path = write_config(tmp_path, keys_dir, Ports(18000, 18001, 18002), "redis://127.0.0.1:6379/0",
                        "t:", **{"clients.0.token_endpoint_auth_method": "client_secret_post",
                                 "clients.0.client_secret": secret})
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert str(error.value) == (f"{path}: clients[0].client_secret: is required for "
                                f"client_secret_post")
