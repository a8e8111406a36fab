"""Rate limits on /authorize, /token and the assertion consumer service (broker/ratelimit.py):
per client and per IP, counted in Redis so every broker process shares them, answered with 429:
a resident page for browser endpoints, an OAuth JSON error for /token."""

from __future__ import annotations

import pytest

from broker.app import create_app
from broker.config import ConfigError, load_config
from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET, write_config

TOO_MANY = "Sorry, there have been too many attempts to sign in"
GENEROUS = "1000/minute"


def limits(**sections) -> dict:
    """Tight limits where a test sets them, generous elsewhere."""
    config = {"authorize": {"per_ip": GENEROUS, "per_client": GENEROUS},
              "token": {"per_ip": GENEROUS, "per_client": GENEROUS},
              "acs": {"per_ip": GENEROUS}}
    for section, rules in sections.items():
        config[section].update(rules)
    return {"rate_limits": config}


@pytest.fixture
def limited(stack_factory):
    """`limited(hops=0, **sections)`: the broker app of a stack with these limits."""

    def build(hops: int = 0, **sections):
        overrides = limits(**sections)
        if hops:
            overrides["proxy"] = {"trusted_hops": hops}
        return stack_factory(lambda ports: overrides)

    return build


def authorize_from(client, client_id: str = COUNCIL_CLIENT_ID, ip: str = "127.0.0.1", headers=None):
    return client.get("/authorize", query_string={"client_id": client_id, "response_type": "code"},
                      environ_base={"REMOTE_ADDR": ip}, headers=headers or {})


def token_request(client, ip: str = "127.0.0.1"):
    return client.post("/token", data={"grant_type": "authorization_code", "code": "nope",
                                       "redirect_uri": "https://x.example/cb", "code_verifier": "v"},
                       auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET),
                       environ_base={"REMOTE_ADDR": ip})


def acs_post(client, ip: str = "127.0.0.1", headers=None):
    return client.post("/saml/acs", data={"SAMLResponse": "PHg+", "RelayState": "unknown"},
                       environ_base={"REMOTE_ADDR": ip}, headers=headers or {})


def test_authorize_over_the_per_ip_limit_gets_the_too_many_requests_page(limited):
    client = limited(authorize={"per_ip": "2/minute"}).broker_app.test_client()
    assert [authorize_from(client).status_code for _ in range(2)] == [400, 400]
    response = authorize_from(client)
    assert response.status_code == 429 and TOO_MANY in response.text
    assert int(response.headers["Retry-After"]) >= 1


def test_authorize_per_ip_limit_counts_each_address_separately(limited):
    client = limited(authorize={"per_ip": "2/minute"}).broker_app.test_client()
    for _ in range(2):
        authorize_from(client, ip="192.0.2.1")
    assert authorize_from(client, ip="192.0.2.1").status_code == 429
    assert authorize_from(client, ip="192.0.2.2").status_code != 429


def test_authorize_per_client_limit_counts_each_client_separately(limited):
    client = limited(authorize={"per_client": "2/minute"}).broker_app.test_client()
    for i in range(2):
        authorize_from(client, ip=f"192.0.2.{i}")
    assert authorize_from(client, ip="192.0.2.9").status_code == 429
    assert authorize_from(client, client_id="another-app", ip="192.0.2.9").status_code != 429


def test_token_over_the_limit_gets_an_oauth_json_error(limited):
    client = limited(token={"per_client": "2/minute"}).broker_app.test_client()
    assert [token_request(client).status_code for _ in range(2)] == [400, 400]
    response = token_request(client)
    assert response.status_code == 429
    assert response.json["error"] == "temporarily_unavailable"
    assert response.headers["Cache-Control"] == "no-store" and "Retry-After" in response.headers


def test_acs_over_the_per_ip_limit_gets_the_too_many_requests_page(limited):
    client = limited(acs={"per_ip": "2/minute"}).broker_app.test_client()
    assert [acs_post(client).status_code for _ in range(2)] == [400, 400]
    response = acs_post(client)
    assert response.status_code == 429 and TOO_MANY in response.text


def test_limits_are_shared_by_every_broker_process(limited):
    stack = limited(authorize={"per_ip": "2/minute"})
    first, second = stack.broker_app.test_client(), create_app(stack.config).test_client()
    authorize_from(first)
    authorize_from(second)
    assert authorize_from(first).status_code == 429
    assert authorize_from(second).status_code == 429


def test_limits_are_counted_in_redis_under_the_configured_prefix(limited):
    stack = limited(authorize={"per_ip": "2/minute"})
    authorize_from(stack.broker_app.test_client())
    assert list(stack.redis.scan_iter(f"{stack.prefix}ratelimit:*"))


def test_x_forwarded_for_is_ignored_without_trusted_proxies(limited):
    client = limited(authorize={"per_ip": "2/minute"}).broker_app.test_client()
    for i in range(2):
        authorize_from(client, headers={"X-Forwarded-For": f"198.51.100.{i}"})
    response = authorize_from(client, headers={"X-Forwarded-For": "198.51.100.99"})
    assert response.status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit(limited):
    client = limited(hops=1, authorize={"per_ip": "2/minute"}).broker_app.test_client()
    for _ in range(2):
        authorize_from(client, headers={"X-Forwarded-For": "198.51.100.1"})
    assert authorize_from(client, headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 429
    assert authorize_from(client, headers={"X-Forwarded-For": "198.51.100.2"}).status_code != 429


def test_an_address_prepended_by_the_resident_does_not_escape_the_limit(limited):
    client = limited(hops=1, acs={"per_ip": "2/minute"}).broker_app.test_client()
    for i in range(3):
        response = acs_post(client, headers={"X-Forwarded-For": f"203.0.113.{i}, 198.51.100.7"})
    assert response.status_code == 429


def test_rate_limits_can_be_switched_off(stack_factory):
    stack = stack_factory(lambda ports: {"rate_limits": {"enabled": False,
                                                         "acs": {"per_ip": "1/minute"}}})
    client = stack.broker_app.test_client()
    assert {acs_post(client).status_code for _ in range(3)} == {400}


@pytest.mark.parametrize("rate_limits, key", [
    ({"authorize": {"per_ip": "lots"}}, "rate_limits.authorize.per_ip"),
    ({"acs": {"per_client": "10/minute"}}, "rate_limits.acs.per_client"),
    ({"userinfo": {"per_ip": "10/minute"}}, "rate_limits.userinfo"),
    ({"token": {"per_client": 10}}, "rate_limits.token.per_client"),
])
def test_a_bad_rate_limit_setting_is_named_at_start_up(tmp_path, keys_dir, rate_limits, key):
    from tests.conftest import Ports

    path = write_config(tmp_path, keys_dir, Ports(8000, 8001, 8002), "redis://127.0.0.1:1/0", "x:",
                        rate_limits=rate_limits)
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert error.value.key == key


def test_trusted_proxy_hops_are_bounded(tmp_path, keys_dir):
    from tests.conftest import Ports

    path = write_config(tmp_path, keys_dir, Ports(8000, 8001, 8002), "redis://127.0.0.1:1/0", "x:",
                        proxy={"trusted_hops": 9})
    with pytest.raises(ConfigError) as error:
        load_config(path, environ={})
    assert error.value.key == "proxy.trusted_hops"
