"""Redis as the broker uses it: every key expires, connection options, round trips counted."""

from __future__ import annotations

from urllib.parse import urljoin

import pytest
import requests

from broker.config import ConfigError, load_config
from broker.observability import REDIS_ROUND_TRIPS
from broker.state import CountingConnection, connect
from tests import hub_messages
from tests.conftest import Ports, write_config
from tests.oidc_client import authorize, query, redeem, sign_in

PORTS = Ports(18100, 18101, 18102)


def test_every_key_a_sign_in_leaves_has_a_ttl(stack):
    attempt, params = sign_in(stack)
    redeem(stack, params["code"], attempt.verifier, attempt.redirect_uri)
    keys = list(stack.redis.scan_iter(f"{stack.prefix}*"))
    assert len(keys) >= 3  # session, access token, replay caches, hub metadata
    assert all(stack.redis.ttl(key) > 0 for key in keys), [
        k for k in keys if stack.redis.ttl(k) <= 0]


def test_the_broker_counts_its_round_trips_to_redis(stack):
    client = connect(stack.config.redis, allow_embedded=False)
    assert client.connection_pool.connection_class is CountingConnection


def round_trips_per_step(stack) -> dict[str, int]:
    """One whole sign-in, the broker's Redis round trips counted step by step."""
    trips: dict[str, int] = {}

    def step(name: str, request):
        before = REDIS_ROUND_TRIPS._value.get()
        response = request()
        trips[name] = REDIS_ROUND_TRIPS._value.get() - before
        return response

    attempt = step("authorize", lambda: authorize(stack))
    message = hub_messages.success(stack, attempt.authn_request_id)
    answer = step("acs", lambda: attempt.session.post(
        f"{stack.broker_url}/saml/acs", data={"SAMLResponse": message,
                                              "RelayState": attempt.relay_state},
        allow_redirects=False, timeout=10))
    callback = step("continue", lambda: attempt.session.get(
        urljoin(answer.url, answer.headers["Location"]), allow_redirects=False, timeout=10))
    code = query(callback.headers["Location"])["code"]
    tokens = step("token", lambda: redeem(stack, code, attempt.verifier, attempt.redirect_uri))
    userinfo = step("userinfo", lambda: requests.get(
        f"{stack.broker_url}/userinfo", timeout=10,
        headers={"Authorization": f"Bearer {tokens.json()['access_token']}"}))
    assert userinfo.status_code == 200
    return trips


def test_a_sign_in_makes_six_round_trips_while_its_rate_limits_settle(stack_factory):
    """Issue 27's budget, with every limited step's counts due to settle (batch 2: at every
    hit): the settlements ride along with the steps' own round trips."""
    limits = {"per_ip": "100/day", "per_client": "100/day"}
    stack = stack_factory(lambda ports: {"rate_limits": {
        "batch_fraction": 0.02, "authorize": limits, "token": limits,
        "acs": {"per_ip": "100/day"}}})
    round_trips_per_step(stack)  # hub metadata read, connections made, first hits offered
    assert round_trips_per_step(stack) == {"authorize": 1, "acs": 1, "continue": 2, "token": 1,
                                           "userinfo": 1}
    shared = [int(stack.redis.get(key))
              for key in stack.redis.scan_iter(f"{stack.prefix}ratelimit:*")]
    assert sorted(shared) == [2, 2, 2, 2, 2]  # authorize's and /token's two limits, the ACS's


def config_with(tmp_path, keys_dir, **redis):
    return write_config(tmp_path, keys_dir, PORTS, "redis://127.0.0.1:6379/0", "t:",
                        **{f"redis.{k}": v for k, v in redis.items()})


def test_tls_and_acl_user_urls_are_accepted(tmp_path, keys_dir):
    path = config_with(tmp_path, keys_dir, url="rediss://broker:s3cret@redis.example:6380/2")
    assert load_config(path, environ={}).redis.url.startswith("rediss://broker:")


def test_a_non_redis_url_is_refused(tmp_path, keys_dir):
    with pytest.raises(ConfigError, match="redis.url: must be a redis://"):
        load_config(config_with(tmp_path, keys_dir, url="http://redis.example"), environ={})


def test_sentinel_needs_hosts_and_a_service_name(tmp_path, keys_dir):
    with pytest.raises(ConfigError, match="redis.sentinel: needs both"):
        load_config(config_with(tmp_path, keys_dir, sentinel={"hosts": ["s1:26379"]}), environ={})
    config = load_config(config_with(tmp_path, keys_dir, sentinel={
        "hosts": ["s1:26379", "s2:26379"], "service_name": "broker"}), environ={})
    assert config.redis.sentinels == (("s1", 26379), ("s2", 26379))
    assert config.redis.sentinel_service == "broker"


def test_a_malformed_sentinel_address_names_its_position(tmp_path, keys_dir):
    with pytest.raises(ConfigError, match=r"redis.sentinel.hosts\[1\]: must be host:port"):
        load_config(config_with(tmp_path, keys_dir, sentinel={
            "hosts": ["s1:26379", "nonsense"], "service_name": "broker"}), environ={})
