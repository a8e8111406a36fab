"""Shared fixtures: real keys, real Redis, and the broker, stub hub and council app on real ports."""

from __future__ import annotations

import os
import random
import secrets
import socket
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path

import pytest
import redis
import yaml
from werkzeug.serving import make_server

from broker.app import create_app
from broker.config import BrokerConfig, load_config
from broker.devtools.council_app.app import CouncilAppConfig, create_council_app
from broker.devtools.demo import stub_hub_config
from broker.devtools.keys import ensure_demo_keys
from broker.devtools.stub_hub.app import StubHubConfig, create_stub_hub

COUNCIL_CLIENT_ID = "council-app"
COUNCIL_CLIENT_SECRET = "council-app-secret"
ROOT = Path(__file__).resolve().parents[1]
# Every test stack's council has a logo and a colour, so every page the browser tests reach is
# checked (axe, both languages) with them.
TEST_BOROUGH_BRANDING = {
    "name": {"en": "Test Borough Council", "cy": "Cyngor Bwrdeistref Prawf"},
    "logo": str(ROOT / "config" / "brand" / "demo-borough-crest.svg"),
    "logo_alt": {"en": "Test Borough Council crest", "cy": "Arfbais Cyngor Bwrdeistref Prawf"},
    "colour": "#5a2d82",
}


_handed_out: set[int] = set()


def free_port() -> int:
    """A port for a test server, below the kernel's ephemeral range: a port the kernel picks for
    `bind(0)` can be given to one of the suite's own outgoing connections before the server
    binds it ("Address already in use"), which a port below that range never is."""
    ephemeral = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low = int(ephemeral.read_text().split()[0]) if ephemeral.exists() else 32768
    for _ in range(1000):
        port = random.randrange(max(1024, low - 12000), low)
        if port in _handed_out:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port))
            except OSError:
                continue
        _handed_out.add(port)
        return port
    raise RuntimeError("no free port below the ephemeral range")


@pytest.fixture(scope="session")
def keys_dir(tmp_path_factory) -> Path:
    return ensure_demo_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="session")
def redis_url() -> str:
    url = os.environ.get("BROKER_TEST_REDIS_URL") or os.environ.get(
        "BROKER_REDIS_URL", "redis://127.0.0.1:6379/0")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        pytest.fail(f"the tests need a real Redis server at {url} (run them with `make test`): {exc}")
    return url


@pytest.fixture
def redis_client(redis_url) -> redis.Redis:
    return redis.Redis.from_url(redis_url)


@dataclass
class Ports:
    broker: int
    hub: int
    council: int

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{getattr(self, name)}"


def write_config(directory: Path, keys: Path, ports: Ports, redis_url: str, prefix: str,
                 **overrides) -> Path:
    data = {
        "mode": "development",
        "issuer": ports.url("broker"),
        "secret_key": "test-secret-key-that-is-long-enough-000",
        "redis": {"url": redis_url, "key_prefix": prefix},
        "saml": {
            "entity_id": f"{ports.url('broker')}/saml/metadata",
            "signing": {"key": str(keys / "broker-saml-signing.key"),
                        "cert": str(keys / "broker-saml-signing.crt")},
            "encryption": [{"key": str(keys / "broker-saml-encryption.key"),
                            "cert": str(keys / "broker-saml-encryption.crt")}],
        },
        "hub": {"metadata_url": f"{ports.url('hub')}/saml/metadata",
                "sso_url": f"{ports.url('hub')}/saml/sso",
                "truststores": {name: str(keys / f"{name}-truststore.pem")
                                for name in ("metadata", "hub", "idp")}},
        "oidc": {"signing_key": str(keys / "broker-oidc-signing.jwk.json")},
        "data_keys": [{"file": str(keys / "broker-data-key.jwk.json")}],
        "councils": {"test-borough": {"name": "Test Borough Council",
                                      "entity_id": "https://test-borough.example.gov.uk",
                                      "service_url": ports.url("council"),
                                      "branding": TEST_BOROUGH_BRANDING}},
        "clients": [{"client_id": COUNCIL_CLIENT_ID, "council": "test-borough",
                     "name": "Test Borough services",
                     "client_secret": COUNCIL_CLIENT_SECRET,
                     "redirect_uris": [f"{ports.url('council')}/callback"],
                     "post_logout_redirect_uris": [f"{ports.url('council')}/"],
                     "scopes": ["openid", "profile", "address"]}],
    }
    if overrides.get("mode") == "production" and "secret_key" not in overrides:
        # Production refuses every key written in the repository, this one included.
        data["secret_key"] = secrets.token_urlsafe(32)
    if overrides.get("mode") == "production" and not any(k.startswith("oidc") for k in overrides):
        data["oidc"] = {"signing_keys": [  # production needs RS256 beside ES256
            {"file": str(keys / "broker-oidc-signing.jwk.json")},
            {"file": str(keys / "broker-oidc-signing-rsa.jwk.json")}]}
    if "oidc.signing_keys" in overrides:  # the list replaces the one-key shorthand
        del data["oidc"]["signing_key"]
    for dotted, value in overrides.items():
        node = data
        *parents, last = dotted.split(".")
        for part in parents:  # a number is a list index: clients.0.default_level
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[int(last) if isinstance(node, list) else last] = value
    path = directory / "broker.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@dataclass
class Stack:
    """A running broker, stub hub and council app, with everything a test may need."""

    ports: Ports
    config: BrokerConfig
    hub: StubHubConfig
    broker_app: object
    redis: redis.Redis
    prefix: str

    @property
    def broker_url(self) -> str:
        return self.ports.url("broker")

    @property
    def hub_url(self) -> str:
        return self.ports.url("hub")

    @property
    def council_url(self) -> str:
        return self.ports.url("council")


def _serve(app, port: int):
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    return server


def start_stack(directory: Path, keys_dir: Path, redis_url: str, redis_client: redis.Redis,
                config_changes=None, prefix_label: str = "test") -> tuple[Stack, list]:
    """A broker, stub hub and council app on free ports; `config_changes(ports)` returns
    write_config overrides. Returns the stack and its servers, for `stop_stack`."""
    ports = Ports(free_port(), free_port(), free_port())
    prefix = f"{prefix_label}-{uuid.uuid4().hex[:12]}:"
    overrides = config_changes(ports) if config_changes else {}
    config = load_config(write_config(directory, keys_dir, ports, redis_url, prefix, **overrides),
                         environ={})
    hub = stub_hub_config(config, keys_dir, ports.url("hub"))
    broker_app = create_app(config)
    servers = [
        _serve(broker_app, ports.broker),
        _serve(create_stub_hub(hub), ports.hub),
        _serve(create_council_app(CouncilAppConfig(
            base_url=ports.url("council"), broker_issuer=config.issuer,
            client_id=COUNCIL_CLIENT_ID, client_secret=COUNCIL_CLIENT_SECRET,
            brand=config.councils["test-borough"].brand)), ports.council),
    ]
    return Stack(ports, config, hub, broker_app, redis_client, prefix), servers


def stop_stack(stack: Stack, servers: list) -> None:
    for server in servers:
        server.shutdown()
    for key in stack.redis.scan_iter(f"{stack.prefix}*"):
        stack.redis.delete(key)


@pytest.fixture
def stack_factory(tmp_path, keys_dir, redis_url, redis_client):
    """Builds running stacks; `config_changes(ports)` returns write_config overrides."""
    started: list[tuple[Stack, list]] = []

    def build(config_changes=None) -> Stack:
        directory = tmp_path / f"stack-{len(started)}"
        directory.mkdir()
        stack, servers = start_stack(directory, keys_dir, redis_url, redis_client, config_changes)
        started.append((stack, servers))
        return stack

    yield build
    for stack, servers in started:
        stop_stack(stack, servers)


@pytest.fixture
def stack(stack_factory) -> Stack:
    return stack_factory()
