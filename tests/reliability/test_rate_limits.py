"""Rate limits on /authorize, /token and the assertion consumer service (broker/ratelimit.py):
per client and per IP, counted in Redis so every broker process shares them, answered with 429:
a resident page for browser endpoints, an OAuth JSON error for /token.

Windows are aligned on the clock (broker/ratelimit_storage.py), so the tight limits here are
per day: a per-minute window could end between a test's requests and reset its count."""

from __future__ import annotations

import math
import time

import pytest
import redis

from broker.app import create_app
from broker.config import ConfigError, load_config
from broker.state import StateUnavailable
from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET, free_port, write_config
from tests.reliability.conftest import wait_until

TOO_MANY = "Sorry, there have been too many attempts to sign in"
GENEROUS = "1000/minute"
TIGHT = "2/day"


def limits(**sections) -> dict:
    """Tight limits where a test sets them, generous elsewhere."""
    config = {"authorize": {"per_ip": GENEROUS, "per_client": GENEROUS},
              "token": {"per_ip": GENEROUS, "per_client": GENEROUS},
              "par": {"per_ip": GENEROUS, "per_client": GENEROUS},
              "acs": {"per_ip": GENEROUS},
              "client_authentication_failures": {"per_ip": GENEROUS}}
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
    """A request naming a registered client and its redirect URI: what a per-client limit counts."""
    config = client.application.extensions["broker"].config
    redirect_uri = config.clients[COUNCIL_CLIENT_ID].redirect_uris[0]
    return client.get("/authorize", query_string={"client_id": client_id, "response_type": "code",
                                                  "redirect_uri": redirect_uri},
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
    client = limited(authorize={"per_ip": TIGHT}).broker_app.test_client()
    assert [authorize_from(client).status_code for _ in range(2)] == [302, 302]  # errors
    response = authorize_from(client)
    assert response.status_code == 429 and TOO_MANY in response.text
    assert int(response.headers["Retry-After"]) >= 1


def test_authorize_per_ip_limit_counts_each_address_separately(limited):
    client = limited(authorize={"per_ip": TIGHT}).broker_app.test_client()
    for _ in range(2):
        authorize_from(client, ip="192.0.2.1")
    assert authorize_from(client, ip="192.0.2.1").status_code == 429
    assert authorize_from(client, ip="192.0.2.2").status_code != 429


def test_authorize_per_client_limit_counts_each_client_separately(limited):
    client = limited(authorize={"per_client": TIGHT}).broker_app.test_client()
    for i in range(2):
        authorize_from(client, ip=f"192.0.2.{i}")
    assert authorize_from(client, ip="192.0.2.9").status_code == 429
    assert authorize_from(client, client_id="another-app", ip="192.0.2.9").status_code != 429


def test_token_over_the_limit_gets_an_oauth_json_error(limited):
    client = limited(token={"per_client": TIGHT}).broker_app.test_client()
    assert [token_request(client).status_code for _ in range(2)] == [400, 400]
    response = token_request(client)
    assert response.status_code == 429
    assert response.json["error"] == "temporarily_unavailable"
    assert response.headers["Cache-Control"] == "no-store" and "Retry-After" in response.headers


def test_acs_over_the_per_ip_limit_gets_the_too_many_requests_page(limited):
    client = limited(acs={"per_ip": TIGHT}).broker_app.test_client()
    assert [acs_post(client).status_code for _ in range(2)] == [400, 400]
    response = acs_post(client)
    assert response.status_code == 429 and TOO_MANY in response.text


def test_limits_are_shared_by_every_broker_process(limited):
    stack = limited(authorize={"per_ip": TIGHT})
    first, second = stack.broker_app.test_client(), create_app(stack.config).test_client()
    authorize_from(first)
    authorize_from(second)
    assert authorize_from(first).status_code == 429
    assert authorize_from(second).status_code == 429


def test_limits_are_counted_in_redis_under_the_configured_prefix(limited):
    stack = limited(authorize={"per_ip": TIGHT})
    authorize_from(stack.broker_app.test_client())
    assert list(stack.redis.scan_iter(f"{stack.prefix}ratelimit:*"))


def test_x_forwarded_for_is_ignored_without_trusted_proxies(limited):
    client = limited(authorize={"per_ip": TIGHT}).broker_app.test_client()
    for i in range(2):
        authorize_from(client, headers={"X-Forwarded-For": f"198.51.100.{i}"})
    response = authorize_from(client, headers={"X-Forwarded-For": "198.51.100.99"})
    assert response.status_code == 429


def test_behind_a_trusted_proxy_each_forwarded_address_has_its_own_limit(limited):
    client = limited(hops=1, authorize={"per_ip": TIGHT}).broker_app.test_client()
    for _ in range(2):
        authorize_from(client, headers={"X-Forwarded-For": "198.51.100.1"})
    assert authorize_from(client, headers={"X-Forwarded-For": "198.51.100.1"}).status_code == 429
    assert authorize_from(client, headers={"X-Forwarded-For": "198.51.100.2"}).status_code != 429


def test_an_address_prepended_by_the_resident_does_not_escape_the_limit(limited):
    client = limited(hops=1, acs={"per_ip": TIGHT}).broker_app.test_client()
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
    ({"batch_fraction": 2}, "rate_limits.batch_fraction"),
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


# --- batched counting (broker/ratelimit_storage.py) ------------------------------------------------
# Each process counts in memory and settles with Redis every max(1, limit × batch_fraction) hits:
# large limits cost far fewer Redis round trips than requests, small ones stay exact, N processes
# share a limit within N × (batch − 1), and a Redis outage is counted in memory.

class RedisTraffic:
    """Counts what a redis client sends about rate limits: commands, and round trips (one per
    packet sent, whether a single command or a pipeline) that carry any of them."""

    MARK = b"ratelimit:"

    def __init__(self):
        self.commands, self.round_trips = [], 0

    def client(self, url: str) -> redis.Redis:
        traffic = self

        class Counting(redis.connection.Connection):
            def send_packed_command(self, command, check_health=True):
                chunks = [command] if isinstance(command, (bytes, str)) else command
                if any(traffic.MARK in bytes(chunk) for chunk in chunks):
                    traffic.round_trips += 1
                return super().send_packed_command(command, check_health)

            def send_command(self, *args, **kwargs):
                traffic.note(args)
                return super().send_command(*args, **kwargs)

            def pack_commands(self, commands):
                for command in commands:
                    traffic.note(command)
                return super().pack_commands(commands)

        return redis.Redis.from_url(url, connection_class=Counting, socket_timeout=2)

    def note(self, args) -> None:
        if any(isinstance(arg, str) and self.MARK.decode() in arg for arg in args[1:2]):
            self.commands.append(str(args[0]).upper())


def allowed(responses) -> int:
    return sum(1 for response in responses if response.status_code != 429)


def test_a_large_limit_costs_far_fewer_redis_round_trips_than_requests(limited, redis_url):
    stack = limited(authorize={"per_ip": "3000/hour", "per_client": "3000/hour"})  # batch 150
    traffic = RedisTraffic()
    client = create_app(stack.config, redis_client=traffic.client(redis_url)).test_client()
    started = time.monotonic()
    assert allowed(authorize_from(client) for _ in range(600)) == 600
    seconds = time.monotonic() - started
    # 2 limits × 600 hits: 8 settlements by batch, plus at most one a second per key by time.
    assert traffic.round_trips <= 8 + 2 * (math.ceil(seconds) + 1), (traffic.round_trips, seconds)
    assert traffic.round_trips < 1200 / 20
    assert set(traffic.commands) <= {"INCRBY", "EXPIREAT"}
    assert len(traffic.commands) == 2 * traffic.round_trips
    shared = [int(stack.redis.get(key)) for key in stack.redis.scan_iter(f"{stack.prefix}ratelimit:*")]
    assert len(shared) == 2 and all(600 - 150 <= count <= 600 for count in shared)
    assert all(stack.redis.ttl(key) > 0 for key in stack.redis.scan_iter(f"{stack.prefix}ratelimit:*"))


def test_residents_at_the_default_limits_cost_no_round_trip_for_their_own_address(
        stack_factory, redis_url):
    """Production-sized limits (the defaults): a resident's address sees a hit or two per window,
    which never reaches Redis; only the busy per-client count settles, every 150 hits."""
    stack = stack_factory()
    traffic = RedisTraffic()
    client = create_app(stack.config, redis_client=traffic.client(redis_url)).test_client()
    started = time.monotonic()
    responses = [authorize_from(client, ip=f"10.0.{i // 250}.{i % 250}") for i in range(300)]
    seconds = time.monotonic() - started
    assert allowed(responses) == 300
    assert traffic.round_trips <= 2 + math.ceil(seconds) + 1, (traffic.round_trips, seconds)


def test_two_processes_share_a_limit_within_the_documented_overshoot(limited):
    stack = limited(authorize={"per_ip": "100/day"})  # batch 5: each may hold back 4 hits
    first, second = (create_app(stack.config).test_client() for _ in range(2))
    responses = [authorize_from(client) for _ in range(100) for client in (first, second)]
    assert 100 <= allowed(responses) <= 100 + 2 * 4
    assert authorize_from(first).status_code == 429 and authorize_from(second).status_code == 429
    [key] = stack.redis.scan_iter(f"{stack.prefix}ratelimit:*ip:127.0.0.1*")
    assert int(stack.redis.get(key)) >= 100


def test_a_process_that_joins_late_sees_what_the_others_counted(limited):
    stack = limited(authorize={"per_ip": "100/day"})
    first, second = (create_app(stack.config).test_client() for _ in range(2))
    assert allowed(authorize_from(first) for _ in range(90)) == 90
    assert allowed(authorize_from(second) for _ in range(50)) == 10


@pytest.mark.parametrize("limit, fraction", [("10/day", None), ("60/day", 0)])
def test_small_limits_and_batch_fraction_zero_are_exact_across_processes(
        stack_factory, limit, fraction):
    rate_limits = limits(authorize={"per_ip": limit})["rate_limits"]
    if fraction is not None:
        rate_limits["batch_fraction"] = fraction
    stack = stack_factory(lambda ports: {"rate_limits": rate_limits})
    first, second = (create_app(stack.config).test_client() for _ in range(2))
    amount = int(limit.split("/")[0])
    responses = [authorize_from(client) for _ in range(amount) for client in (first, second)]
    assert allowed(responses) == amount


def test_windows_are_aligned_on_the_clock_and_retry_after_says_when_one_ends(limited):
    client = limited(authorize={"per_ip": "1/minute"}).broker_app.test_client()
    authorize_from(client)
    response = authorize_from(client)
    if response.status_code != 429:  # the minute ended between the two requests
        response = authorize_from(client)
    assert response.status_code == 429
    assert 1 <= int(response.headers["Retry-After"]) <= 60 - int(time.time() % 60) + 1


def test_with_redis_down_requests_are_served_and_counted_in_memory(limited):
    stack = limited(authorize={"per_ip": "3/day"})
    from redis.backoff import NoBackoff
    from redis.retry import Retry

    unreachable = redis.Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5,
                              retry=Retry(NoBackoff(), 0))  # redis-py's default waits ~8 s
    client = create_app(stack.config, redis_client=unreachable).test_client()
    responses = [authorize_from(client) for _ in range(4)]
    assert [response.status_code for response in responses] == [302, 302, 302, 429]


def test_hits_counted_during_an_outage_reach_redis_when_it_is_back(own_redis):
    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    from broker.ratelimit_storage import BatchedRedisStorage

    client = redis.Redis.from_url(own_redis.url, socket_connect_timeout=0.5, socket_timeout=0.5)
    storage = BatchedRedisStorage("broker+batched://", client=client, key_prefix="t:ratelimit")
    limiter, item = FixedWindowRateLimiter(storage), parse("5/day")  # batch 1
    assert all(limiter.hit(item, "ip:192.0.2.1") for _ in range(2))
    own_redis.stop()
    assert [limiter.hit(item, "ip:192.0.2.1") for _ in range(4)] == [True, True, True, False]
    own_redis.start()
    wait_until(storage.check, 10, "Redis back")
    time.sleep(1.1)  # the first retry comes a second after the failure
    assert not limiter.hit(item, "ip:192.0.2.1")  # 7 hits: the process remembers its own
    [key] = client.scan_iter("t:ratelimit:*")
    # Redis restarted empty: it holds the 4 hits of the outage and the last one.
    assert int(client.get(key)) == 5 and client.ttl(key) > 0


def test_the_limit_and_window_are_read_from_limits_keys():
    from limits import parse

    from broker.ratelimit_storage import parse_limit_key

    assert parse_limit_key(parse("120/minute").key_for("LIMITER", "ip:a/b", "scope")) == (120, 60)
    assert parse_limit_key(parse("5 per 2 hours").key_for("x")) == (5, 7200)
    assert parse_limit_key("something/else") is None


def test_beyond_the_key_cap_new_keys_are_counted_in_redis_only(monkeypatch, redis_client):
    from limits import parse
    from limits.strategies import FixedWindowRateLimiter

    from broker import ratelimit_storage

    monkeypatch.setattr(ratelimit_storage, "MAX_KEYS", 2)
    prefix = f"cap-{time.monotonic_ns()}:ratelimit"
    storage = ratelimit_storage.BatchedRedisStorage(client=redis_client, key_prefix=prefix)
    limiter, item = FixedWindowRateLimiter(storage), parse("1000/day")  # batch 50
    for client_id in ("a", "b", "c", "c"):
        assert limiter.hit(item, f"client:{client_id}")
    assert len(storage._counts) == 2
    [key] = redis_client.scan_iter(f"{prefix}:*")  # only the third key reached Redis, twice
    assert "client:c" in key.decode() and int(redis_client.get(key)) == 2
    redis_client.delete(key)


def test_wrong_secrets_under_a_clients_id_do_not_spend_its_token_budget(limited):
    client = limited(token={"per_client": TIGHT}).broker_app.test_client()
    for i in range(5):
        response = client.post("/token", data={"grant_type": "authorization_code", "code": "x"},
                               auth=(COUNCIL_CLIENT_ID, "wrong-secret"),
                               environ_base={"REMOTE_ADDR": f"198.51.100.{i}"})
        assert response.json["error"] == "invalid_client"
    assert token_request(client).status_code == 400  # the real app: a bad code, not 429


def test_junk_authorize_requests_naming_a_client_do_not_spend_its_budget(limited):
    client = limited(authorize={"per_client": TIGHT}).broker_app.test_client()
    for i in range(5):
        junk = client.get("/authorize", query_string={"client_id": COUNCIL_CLIENT_ID,
                                                      "redirect_uri": "https://evil.example/"},
                          environ_base={"REMOTE_ADDR": f"198.51.100.{i}"})
        assert junk.status_code != 429
    assert authorize_from(client).status_code == 302


def test_failed_client_authentication_has_its_own_tighter_per_ip_limit(limited):
    stack = limited(client_authentication_failures={"per_ip": TIGHT})
    client = stack.broker_app.test_client()
    for _ in range(2):
        response = client.post("/token", data={"grant_type": "authorization_code", "code": "x"},
                               auth=(COUNCIL_CLIENT_ID, "guess"))
        assert response.json["error"] == "invalid_client"
    refused = token_request(client)  # even the right secret, from that address, now waits
    assert refused.status_code == 429 and refused.json["error"] == "temporarily_unavailable"
    assert token_request(client, ip="192.0.2.77").status_code == 400
    par = client.post("/par", data={"response_type": "code"}, auth=(COUNCIL_CLIENT_ID, "guess"))
    assert par.status_code == 429


def test_par_counts_per_client_after_authentication(limited):
    client = limited(par={"per_client": TIGHT}).broker_app.test_client()
    for _ in range(2):
        client.post("/par", data={"response_type": "code"},
                    auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET))
    over = client.post("/par", data={"response_type": "code"},
                       auth=(COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET))
    assert over.status_code == 429 and over.json["error"] == "temporarily_unavailable"


def test_checking_the_failure_limit_costs_no_redis_round_trip(stack_factory, redis_url):
    """Honest council apps authenticate from addresses that never failed: the check before
    their credentials reads this process's own count, not Redis."""
    stack = stack_factory()
    traffic = RedisTraffic()
    client = create_app(stack.config, redis_client=traffic.client(redis_url)).test_client()
    for i in range(20):
        assert token_request(client, ip=f"10.1.0.{i}").status_code == 400  # a bad code
    assert "GET" not in traffic.commands


# --- riding along (broker/ratelimit_storage.py, broker/state.py) ----------------------------------
# A settlement that decides nothing yet goes to Redis with the request's own next round trip (the
# broker state's), not in one of its own; near the limit every hit still settles before it is
# decided, and a settlement nobody carries is sent alone a second later.

class Process:
    """One broker process's limiter and state on one Redis client, its settlements riding along
    with the state's round trips (as broker.ratelimit wires them), and a clock it can move on."""

    def __init__(self, redis_url: str, prefix: str, monkeypatch):
        from limits.strategies import FixedWindowRateLimiter

        from broker import ratelimit_storage
        from broker.sealing import DataKey, Sealer
        from broker.state import BrokerState, CountingConnection

        client = redis.Redis.from_url(redis_url, connection_class=CountingConnection)
        key = DataKey.generate("test-key-1")
        self.state = BrokerState(client, prefix, Sealer((key,), key.id))
        self.storage = ratelimit_storage.BatchedRedisStorage(
            client=client, key_prefix=f"{prefix}ratelimit", rides_along=True)
        self.state.carry_riders(self.storage.take_riders)
        self.limiter = FixedWindowRateLimiter(self.storage)
        self.ahead = 0.0
        monkeypatch.setattr(ratelimit_storage, "time", type("Clock", (), {
            "time": staticmethod(time.time),
            "monotonic": staticmethod(lambda: time.monotonic() + self.ahead)}))
        client.ping()  # the connection's own set-up is no step's

    def round_trips(self, action) -> int:
        from broker.observability import REDIS_ROUND_TRIPS

        before = REDIS_ROUND_TRIPS._value.get()
        action()
        return REDIS_ROUND_TRIPS._value.get() - before

    def hits(self, item, identifier: str, times: int) -> list[bool]:
        return [self.limiter.hit(item, identifier) for _ in range(times)]


@pytest.fixture
def process(redis_url, redis_client, monkeypatch):
    prefix = f"ride-{time.monotonic_ns()}:"
    yield lambda: Process(redis_url, prefix, monkeypatch)
    for key in redis_client.scan_iter(f"{prefix}*"):
        redis_client.delete(key)


def shared_count(redis_client, process: Process) -> int | None:
    keys = list(redis_client.scan_iter(f"{process.storage.key_prefix}:*"))
    assert len(keys) <= 1
    return int(redis_client.get(keys[0])) if keys else None


def test_a_settlement_due_rides_along_with_the_requests_next_round_trip(process, redis_client):
    from limits import parse

    broker = process()
    item = parse("1000/day")  # batch 50: offered to ride from 25 hits pending
    assert broker.round_trips(lambda: broker.hits(item, "client:a", 25)) == 0
    assert shared_count(redis_client, broker) is None
    assert broker.round_trips(lambda: broker.state.get_session("none")) == 1
    assert shared_count(redis_client, broker) == 25
    [key] = redis_client.scan_iter(f"{broker.storage.key_prefix}:*")
    assert 0 < redis_client.ttl(key) <= 86400 + 2
    assert broker.round_trips(lambda: broker.state.get_session("none")) == 1  # nothing left
    assert shared_count(redis_client, broker) == 25


def test_riders_never_change_what_the_caller_gets(process, redis_client):
    from limits import parse

    broker = process()
    item = parse("1000/day")
    broker.hits(item, "client:a", 25)
    assert broker.state.first_sightings([("id", "x", 60), ("id", "x", 60)]) == [True, False]
    broker.hits(item, "client:a", 25)
    redis_client.sadd(broker.state.key_for("session", "a-set"), "not a session")
    with pytest.raises(StateUnavailable):  # the caller's own error is still its own
        broker.state.get_session("a-set")
    assert shared_count(redis_client, broker) == 50  # and the riders settled all the same
    broker.hits(item, "client:a", 25)
    broker.state.end_session_grants("sid-1", 60)
    with broker.state.batched_writes():  # a follow-up reads its own answer: the ended mark
        broker.state.save_code_and_token("code-1", {}, 60, "token-1", {}, 60, "id-1", sid="sid-1")
    assert broker.state.take_code("code-1") is None
    assert shared_count(redis_client, broker) == 75


def test_a_settlement_nobody_carries_is_sent_alone_a_second_later(process, redis_client):
    from limits import parse

    from broker.ratelimit_storage import SYNC_SECONDS

    broker = process()
    item = parse("1000/day")
    assert broker.hits(item, "ip:192.0.2.1", 1) == [True]
    broker.ahead += SYNC_SECONDS  # due by the clock: offered, and no request carries it
    assert broker.round_trips(lambda: broker.hits(item, "ip:192.0.2.1", 1)) == 0
    broker.ahead += SYNC_SECONDS / 2
    assert broker.round_trips(lambda: broker.hits(item, "ip:192.0.2.1", 1)) == 0
    assert shared_count(redis_client, broker) is None
    broker.ahead += SYNC_SECONDS / 2
    assert broker.round_trips(lambda: broker.hits(item, "ip:192.0.2.1", 1)) == 1
    assert shared_count(redis_client, broker) == 4
    assert broker.round_trips(lambda: broker.state.get_session("none")) == 1
    assert shared_count(redis_client, broker) == 4  # taken back: not sent twice


def test_near_the_limit_every_hit_settles_before_it_is_decided(process, redis_client):
    from limits import parse

    first, second = process(), process()
    item = parse("2/day")  # batch 1: exact across processes
    allowed = []
    for broker in (first, second, first, second):
        assert broker.round_trips(lambda b=broker: allowed.extend(b.hits(item, "ip:a", 1))) == 1
        assert broker.round_trips(lambda b=broker: b.state.get_session("none")) == 1
    assert allowed == [True, True, False, False]
    assert shared_count(redis_client, first) == 4


def test_hits_whose_ride_failed_are_pending_again_and_reach_redis_later(process, redis_client,
                                                                        monkeypatch):
    from limits import parse

    broker = process()
    item = parse("1000/day")
    broker.hits(item, "client:a", 25)
    execute = redis.client.Pipeline.execute

    def unreachable(pipe, raise_on_error=True):
        pipe.reset()
        raise redis.ConnectionError("Redis went away")

    monkeypatch.setattr(redis.client.Pipeline, "execute", unreachable)
    with pytest.raises(StateUnavailable):
        broker.state.get_session("none")
    monkeypatch.setattr(redis.client.Pipeline, "execute", execute)
    assert shared_count(redis_client, broker) is None
    assert broker.storage.local_count(item.key_for("client:a")) == 25
    broker.ahead += 1.0  # the limiter tries Redis again after a second
    broker.hits(item, "client:a", 1)
    broker.state.get_session("none")
    assert shared_count(redis_client, broker) == 26


def test_threads_hitting_and_carrying_riders_lose_and_double_no_hit(process, redis_client):
    from concurrent.futures import ThreadPoolExecutor

    from limits import parse

    broker = process()
    item = parse("1000/day")  # 800 hits stay below the limit's last batch

    def request(_):
        assert broker.limiter.hit(item, "client:a")
        broker.state.get_session("none")

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(request, range(800)))
    assert broker.storage.local_count(item.key_for("client:a")) == 800
    assert 800 - 25 < shared_count(redis_client, broker) <= 800
