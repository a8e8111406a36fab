"""Real processes for the reliability tests: a private Redis server that a test may stop, restart
or freeze, the broker under gunicorn (`broker serve`) as one or two subprocesses, the stub hub in
a thread, and a small council matching service on a real port for the subprocesses.

Every process started here is stopped by its fixture's finalizer, by its own pid, even when the
test fails. The shared Redis (BROKER_TEST_REDIS_URL) is never stopped: tests that stop Redis get
their own `redis-server` on a free port.
"""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
import redis
import requests
from sqlalchemy import text
from werkzeug.wrappers import Request, Response

from broker.config import BrokerConfig, load_config
from broker.devtools.demo import stub_hub_config
from broker.devtools.stub_hub.app import StubHubConfig, create_stub_hub
from broker.matching.database import make_engine
from tests.conftest import Ports, _serve, free_port, write_config
from tests.matching.conftest import postgres_url

REPO = Path(__file__).resolve().parents[2]
START_DEADLINE = 40.0


def wait_until(condition: Callable[[], object], deadline: float, what: str, interval: float = 0.05):
    """Polls `condition` until it returns something truthy; fails naming `what` at the deadline."""
    end = time.monotonic() + deadline
    while True:
        try:
            result = condition()
        except Exception:  # noqa: BLE001 - a dependency still starting: poll again
            result = None
        if result:
            return result
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline:.0f} s waiting for {what}")
        time.sleep(interval)


# --- Redis -----------------------------------------------------------------------------------

@dataclass
class RedisServer:
    """A private redis-server this test may stop, start again, pause (SIGSTOP) and resume."""

    directory: Path
    port: int
    persistent: bool = False
    process: subprocess.Popen | None = None
    paused: bool = False

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        persistence = (["--appendonly", "yes", "--appendfsync", "always"] if self.persistent
                       else ["--save", "", "--appendonly", "no"])
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir",
             str(self.directory), "--logfile", str(self.directory / "redis.log"), *persistence],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_until(lambda: redis.Redis.from_url(self.url, socket_timeout=1).ping(), 10,
                   "redis-server to answer")

    def stop(self) -> None:
        """Stops Redis the way an operator would (SHUTDOWN writes the append-only file)."""
        if self.process is None:
            return
        self.resume()
        self.process.terminate()
        self.process.wait(timeout=10)
        self.process = None

    def pause(self) -> None:
        """Freezes Redis: connections are accepted by the kernel, but nothing answers."""
        self.process.send_signal(signal.SIGSTOP)
        self.paused = True

    def resume(self) -> None:
        if self.paused and self.process is not None:
            self.process.send_signal(signal.SIGCONT)
            self.paused = False

    def kill(self) -> None:
        if self.process is not None:
            self.resume()
            self.process.kill()
            self.process.wait(timeout=10)
            self.process = None


@pytest.fixture
def redis_server_factory(tmp_path) -> Iterator[Callable[..., RedisServer]]:
    if shutil.which("redis-server") is None:
        pytest.fail("the reliability tests need redis-server (scripts/with-test-services installs it)")
    servers: list[RedisServer] = []

    def build(persistent: bool = False) -> RedisServer:
        directory = tmp_path / f"redis-{len(servers)}"
        directory.mkdir()
        server = RedisServer(directory, free_port(), persistent)
        servers.append(server)
        server.start()
        return server

    yield build
    for server in servers:
        server.kill()


@pytest.fixture(scope="module")
def module_redis(tmp_path_factory) -> Iterator[RedisServer]:
    """A private Redis for a module; tests that stop or pause it get it back running after."""
    if shutil.which("redis-server") is None:
        pytest.fail("the reliability tests need redis-server (scripts/with-test-services installs it)")
    server = RedisServer(tmp_path_factory.mktemp("redis"), free_port())
    server.start()
    yield server
    server.kill()


@pytest.fixture
def own_redis(module_redis) -> Iterator[RedisServer]:
    """The module's private Redis, running again after the test whatever the test did to it."""
    yield module_redis
    module_redis.resume()
    if module_redis.process is None:
        module_redis.start()


# --- the stub hub and a council matching service, in threads -----------------------------------

@dataclass
class MatchingStub:
    """The council's local matching service (docs/architecture.md section 6) on a real port, for brokers
    running as subprocesses (which `responses` cannot reach). Answers `match` with one local
    account for everyone, after `delay` seconds; records every hashed PID it is asked about."""

    port: int
    delay: float = 0.0
    calls: list[str] = field(default_factory=list)
    server: object = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/match"

    def __call__(self, environ, start_response):
        request = Request(environ)
        body = json.loads(request.get_data() or b"{}")
        self.calls.append(body.get("hashedPid", ""))
        time.sleep(self.delay)
        answer = {"result": "match", "localAccountId": "LA-0001"}
        return Response(json.dumps(answer), content_type="application/json")(environ, start_response)


@pytest.fixture
def matching_stub() -> Iterator[MatchingStub]:
    stub = MatchingStub(free_port())
    stub.server = _serve(stub, stub.port)
    yield stub
    stub.server.shutdown()


# --- brokers under gunicorn ----------------------------------------------------------------------

@dataclass
class BrokerProcess:
    """`python -m broker.cli serve` as a subprocess (its own process group)."""

    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def terminate(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)

    def kill(self) -> None:
        """SIGINT (gunicorn's quick shutdown), then SIGKILL to the process group (the master
        and its workers)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=3)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=10)
        try:
            os.killpg(self.process.pid, signal.SIGKILL)  # any worker left behind
        except ProcessLookupError:
            pass


@dataclass
class ProcessStack:
    """What tests/oidc_client.py and tests/hub_messages.py need (`broker_url`, `council_url`,
    `config`, `hub`), for brokers running as processes. `at(url)` is the same stack addressed
    to another instance: both instances share one configuration and one Redis."""

    config: BrokerConfig
    hub: StubHubConfig
    broker_url: str
    council_url: str
    prefix: str
    config_path: Path
    brokers: list[BrokerProcess] = field(default_factory=list)

    def __repr__(self) -> str:  # hypothesis prints fixtures of a failing case: no keys in it
        return f"ProcessStack({self.broker_url})"

    def at(self, url: str) -> ProcessStack:
        return dataclasses.replace(self, broker_url=url)


def _start_broker(config_path: Path, port: int, log_path: Path, workers: int = 2,
                  env: dict[str, str] | None = None) -> BrokerProcess:
    environ = {**os.environ, "BROKER_CONFIG": str(config_path), "BROKER_LOG_LEVEL": "WARNING",
               "BROKER_GRACEFUL_TIMEOUT": "20", **(env or {})}
    environ.pop("PROMETHEUS_MULTIPROC_DIR", None)
    handle = open(log_path, "ab")  # noqa: SIM115 - the child owns it
    process = subprocess.Popen(
        [sys.executable, "-m", "broker.cli", "serve", "--port", str(port), "--workers", str(workers)],
        cwd=REPO, env=environ, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)
    handle.close()
    return BrokerProcess(port, process, log_path)


def _wait_healthy(broker: BrokerProcess) -> None:
    def healthy():
        if broker.process.poll() is not None:
            pytest.fail(f"broker exited with {broker.process.returncode}:\n{broker.log()[-3000:]}")
        return requests.get(f"{broker.url}/healthz", timeout=2).status_code == 200

    wait_until(healthy, START_DEADLINE, f"the broker on port {broker.port} to start")


class ProcessStacks:
    """Builds process stacks under one directory and stops all of them in `close()`."""

    def __init__(self, directory: Path, keys_dir: Path):
        self.directory, self.keys_dir = directory, keys_dir
        self.started: list[tuple[ProcessStack, object, str]] = []

    def build(self, redis_url: str, instances: int = 1,
              config_changes: Callable[[Ports], dict] | None = None) -> ProcessStack:
        """A stub hub in a thread and `instances` brokers under gunicorn sharing one config file
        and one Redis; `config_changes(ports)` returns write_config overrides."""
        ports = Ports(free_port(), free_port(), free_port())
        prefix = f"test-{uuid.uuid4().hex[:12]}:"
        directory = self.directory / prefix.rstrip(":")
        directory.mkdir()
        overrides = config_changes(ports) if config_changes else {}
        path = write_config(directory, self.keys_dir, ports, redis_url, prefix, **overrides)
        config = load_config(path, environ={})
        hub = stub_hub_config(config, self.keys_dir, ports.url("hub"))
        hub_server = _serve(create_stub_hub(hub), ports.hub)
        stack = ProcessStack(config, hub, ports.url("broker"), ports.url("council"), prefix, path)
        self.started.append((stack, hub_server, redis_url))
        broker_ports = [ports.broker] + [free_port() for _ in range(instances - 1)]
        for i, port in enumerate(broker_ports):
            stack.brokers.append(_start_broker(path, port, directory / f"broker-{i}.log"))
        for broker in stack.brokers:
            _wait_healthy(broker)
        return stack

    def close(self) -> None:
        for stack, hub_server, redis_url in self.started:
            for broker in stack.brokers:
                broker.kill()
            hub_server.shutdown()
            try:
                client = redis.Redis.from_url(redis_url, socket_timeout=2, socket_connect_timeout=2)
                for key in client.scan_iter(f"{stack.prefix}*"):
                    client.delete(key)
            except redis.RedisError:
                pass  # a private Redis already stopped by its own fixture


@pytest.fixture
def process_stack_factory(tmp_path, keys_dir) -> Iterator[Callable[..., ProcessStack]]:
    stacks = ProcessStacks(tmp_path, keys_dir)
    yield stacks.build
    stacks.close()


@pytest.fixture(scope="module")
def module_stacks(tmp_path_factory, keys_dir) -> Iterator[ProcessStacks]:
    """Process stacks shared by a module's tests (starting gunicorn costs seconds)."""
    stacks = ProcessStacks(tmp_path_factory.mktemp("stacks"), keys_dir)
    yield stacks
    stacks.close()


@pytest.fixture(scope="module")
def link_database() -> Iterator[str]:
    """A private schema on the real PostgreSQL: two processes write links at once."""
    admin = make_engine(postgres_url())
    schema = f"test_reliability_{uuid.uuid4().hex[:12]}"
    try:
        with admin.begin() as connection:
            connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:  # noqa: BLE001 - say what is missing
        pytest.fail(f"the concurrency tests need PostgreSQL at {postgres_url()}: {exc}")
    separator = "&" if "?" in postgres_url() else "?"
    yield f"{postgres_url()}{separator}options=-csearch_path%3D{schema}"
    with admin.begin() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    admin.dispose()


def no_stack_trace(response: requests.Response) -> bool:
    """What a resident must never see: a Python traceback or a raw server error."""
    text = response.text
    return "Traceback" not in text and "File \"/" not in text and response.status_code != 500
