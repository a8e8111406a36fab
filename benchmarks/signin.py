"""The whole sign-in, measured: `make bench` (or `python -m benchmarks.signin --help`).

Starts its own Redis server (so command statistics are the broker's alone) and the broker under
gunicorn, then drives N complete sign-ins at concurrency C: /authorize, the hub hand-off, the
assertion consumer service, /token and /userinfo. The hub's Responses are signed and encrypted
here, in the driver, as the hub would; the broker does all the work it does in production.

Reported: sign-ins per second; p50/p95/p99 latency per step and in total; broker CPU ms per
sign-in (user + system time of every broker process, from /proc) overall and per step (from a
sequential phase); Redis commands and round trips per sign-in; Redis bytes per pending flow and
per broker session (MEMORY USAGE); peak RSS per worker. One JSON line per run goes to stdout's
last line and to benchmarks/results.jsonl.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import re
import secrets
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import redis
import requests
import yaml
from werkzeug.serving import make_server

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from broker.config import load_config  # noqa: E402
from broker.devtools.demo import stub_hub_config  # noqa: E402
from broker.devtools.keys import ensure_demo_keys  # noqa: E402
from broker.devtools.stub_hub import saml  # noqa: E402
from broker.devtools.stub_hub.app import create_stub_hub  # noqa: E402
from broker.devtools.stub_hub.identities import IDENTITIES  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
STEPS = ("authorize", "acs", "token", "userinfo")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(url: str, seconds: float = 60) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        try:
            if requests.get(url, timeout=5).status_code == 200:
                return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"timed out waiting for {url}")


def process_tree(root_pid: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    pids, queue = [], [root_pid]
    while queue:
        pid = queue.pop()
        pids.append(pid)
        queue.extend(children.get(pid, []))
    return pids


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / CLOCK_TICKS


def peak_rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def write_config(directory: Path, keys: Path, broker_url: str, hub_url: str, redis_url: str,
                 clients: int) -> Path:
    callback = "http://127.0.0.1:9/callback"
    data = {
        "mode": "development", "issuer": broker_url,
        "secret_key": secrets.token_urlsafe(32),
        "redis": {"url": redis_url, "key_prefix": "bench:"},
        "saml": {"entity_id": f"{broker_url}/saml/metadata",
                 "signing": {"key": str(keys / "broker-saml-signing.key"),
                             "cert": str(keys / "broker-saml-signing.crt")},
                 "encryption": [{"key": str(keys / "broker-saml-encryption.key"),
                                 "cert": str(keys / "broker-saml-encryption.crt")}]},
        "hub": {"metadata_url": f"{hub_url}/saml/metadata",
                "trust_anchor": str(keys / "federation-metadata-signing.crt")},
        "oidc": {"signing_key": str(keys / "broker-oidc-signing.jwk.json")},
        # Limits stay on (their Redis work is part of the cost) but high: one driver, one IP.
        "rate_limits": {"enabled": True,
                        "authorize": {"per_ip": "1000000/minute", "per_client": "1000000/minute"},
                        "token": {"per_ip": "1000000/minute", "per_client": "1000000/minute"},
                        "acs": {"per_ip": "1000000/minute"}},
        "councils": {"bench-borough": {"name": "Bench Borough",
                                       "entity_id": "https://bench-borough.example.gov.uk"}},
        "clients": [{"client_id": f"bench-{i}", "council": "bench-borough",
                     "client_secret": "bench-secret", "redirect_uris": [callback],
                     "scopes": ["openid", "profile", "address"]} for i in range(clients)],
    }
    path = directory / "broker.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


class Bench:
    def __init__(self, workers: int, clients: int):
        self.workers, self.clients = workers, clients
        self.tmp = Path(tempfile.mkdtemp(prefix="broker-bench-"))
        self.keys = ensure_demo_keys(self.tmp / "keys")
        self.redis_port, self.broker_port, self.hub_port = free_port(), free_port(), free_port()
        self.broker_url = f"http://127.0.0.1:{self.broker_port}"
        self.hub_url = f"http://127.0.0.1:{self.hub_port}"
        self.redis_url = f"redis://127.0.0.1:{self.redis_port}/0"
        self.processes: list[subprocess.Popen] = []

    def start(self) -> None:
        if not shutil.which("redis-server"):
            raise SystemExit("redis-server is needed: apt-get install -y redis-server")
        self.processes.append(subprocess.Popen(
            ["redis-server", "--port", str(self.redis_port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.tmp)], stdout=subprocess.DEVNULL))
        self.redis = redis.Redis.from_url(self.redis_url)
        for _ in range(100):
            try:
                self.redis.ping()
                break
            except redis.RedisError:
                time.sleep(0.05)
        config_path = write_config(self.tmp, self.keys, self.broker_url, self.hub_url,
                                   self.redis_url, self.clients)
        self.config = load_config(config_path, environ={})
        self.hub = stub_hub_config(self.config, self.keys, self.hub_url)
        self.hub_server = make_server("127.0.0.1", self.hub_port, create_stub_hub(self.hub),
                                      threaded=True)
        threading.Thread(target=self.hub_server.serve_forever, daemon=True).start()
        env = {**os.environ, "BROKER_CONFIG": str(config_path), "BROKER_LOG_LEVEL": "WARNING",
               "PROMETHEUS_MULTIPROC_DIR": str(self.tmp / "metrics")}
        (self.tmp / "metrics").mkdir()
        self.broker = subprocess.Popen(
            [sys.executable, "-m", "broker.cli", "serve", "--port", str(self.broker_port),
             "--workers", str(self.workers)], env=env, cwd=ROOT,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.processes.append(self.broker)
        wait_for(f"{self.broker_url}/healthz")
        session = requests.Session()
        for _ in range(3 * self.workers):  # warm every worker: metadata, imports, first keys
            self.sign_in(session, 0)

    def stop(self) -> None:
        self.hub_server.shutdown()
        for process in reversed(self.processes):
            process.terminate()
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                process.kill()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def hub_answer(self, authn_request_id: str) -> str:
        person = IDENTITIES["jane"]
        spec = saml.AssertionSpec(issuer=self.hub.entity_id, audience=self.config.saml.entity_id,
                                  recipient=self.config.acs_url, in_response_to=authn_request_id,
                                  pid=person.pid, level_uri=person.level.uri,
                                  dataset=person.dataset)
        return saml.encode(saml.success_response(self.hub.signer, spec,
                                                 self.config.saml.encryption[0].cert_pem,
                                                 self.config.acs_url))

    def sign_in(self, session: requests.Session, number: int, cpu_probe=None) -> dict[str, float]:
        """One complete sign-in; returns each step's wall time (and CPU when probed)."""
        client_id = f"bench-{number % self.clients}"
        verifier = secrets.token_urlsafe(48)
        from hashlib import sha256

        challenge = base64.urlsafe_b64encode(sha256(verifier.encode()).digest()).rstrip(b"=").decode()
        timings: dict[str, float] = {}
        session.cookies.clear()  # a new resident each time: no broker session to reuse

        def step(name, call):
            cpu_before = cpu_probe() if cpu_probe else 0.0
            started = time.perf_counter()
            response = call()
            timings[name] = time.perf_counter() - started
            if cpu_probe:
                timings[f"cpu_{name}"] = cpu_probe() - cpu_before
            return response

        handoff = step("authorize", lambda: session.get(f"{self.broker_url}/authorize", params={
            "response_type": "code", "client_id": client_id, "scope": "openid profile address",
            "redirect_uri": "http://127.0.0.1:9/callback", "state": "s", "nonce": "n",
            "code_challenge": challenge, "code_challenge_method": "S256"}, timeout=30,
            allow_redirects=False))
        saml_request = re.search(r'name="SAMLRequest" value="([^"]+)"', handoff.text).group(1)
        relay_state = re.search(r'name="RelayState" value="([^"]+)"', handoff.text).group(1)
        request_id = re.search(r'ID="([^"]+)"', base64.b64decode(saml_request).decode()).group(1)
        answer = self.hub_answer(request_id)
        acs = step("acs", lambda: session.post(f"{self.broker_url}/saml/acs", data={
            "SAMLResponse": answer, "RelayState": relay_state}, allow_redirects=False, timeout=30))
        code = parse_qs(urlparse(acs.headers["Location"]).query)["code"][0]
        token = step("token", lambda: session.post(f"{self.broker_url}/token", data={
            "grant_type": "authorization_code", "code": code, "code_verifier": verifier,
            "redirect_uri": "http://127.0.0.1:9/callback"}, auth=(client_id, "bench-secret"),
            timeout=30)).json()
        info = step("userinfo", lambda: session.get(f"{self.broker_url}/userinfo", timeout=30,
                                                    headers={"Authorization":
                                                             f"Bearer {token['access_token']}"}))
        assert info.status_code == 200, info.text
        timings["total"] = sum(timings[s] for s in STEPS)
        return timings

    def redis_calls(self) -> int:
        stats = self.redis.info("commandstats")
        return sum(v["calls"] for k, v in stats.items()
                   if k not in ("cmdstat_info", "cmdstat_memory", "cmdstat_scan", "cmdstat_ping"))

    def round_trips(self) -> float:
        text = requests.get(f"{self.broker_url}/metrics", timeout=10).text
        return sum(float(line.rsplit(" ", 1)[1]) for line in text.splitlines()
                   if line.startswith("broker_redis_round_trips_total"))

    def memory_of(self, pattern: str) -> int | None:
        keys = list(self.redis.scan_iter(pattern, count=1000))
        if not keys:
            return None
        return int(statistics.median(self.redis.memory_usage(k) or 0 for k in keys[:50]))

    def run(self, total: int, concurrency: int, sequential: int) -> dict:
        pids = process_tree(self.broker.pid)
        probe = lambda: cpu_seconds(pids)  # noqa: E731
        # Sequential phase: one request at a time, so each step's CPU is its own.
        per_step_cpu = {s: [] for s in STEPS}
        session = requests.Session()
        for i in range(sequential):
            timings = self.sign_in(session, i, cpu_probe=probe)
            for s in STEPS:
                per_step_cpu[s].append(timings[f"cpu_{s}"])
        # Pending flow and session sizes, from a flow left waiting at the hub.
        requests.get(f"{self.broker_url}/authorize", timeout=30, allow_redirects=False, params={
            "response_type": "code", "client_id": "bench-0", "scope": "openid",
            "redirect_uri": "http://127.0.0.1:9/callback", "state": "s",
            "code_challenge": "x" * 43, "code_challenge_method": "S256"})
        flow_bytes = self.memory_of("bench:flow:*")
        session_bytes = self.memory_of("bench:session:*")

        calls_before, trips_before, cpu_before = self.redis_calls(), self.round_trips(), probe()
        started = time.perf_counter()
        sessions = threading.local()

        def one(number: int) -> dict[str, float]:
            if not hasattr(sessions, "s"):
                sessions.s = requests.Session()
            return self.sign_in(sessions.s, number)

        with ThreadPoolExecutor(max_workers=concurrency) as pool:
            results = list(pool.map(one, range(total)))
        elapsed = time.perf_counter() - started
        cpu = probe() - cpu_before
        calls = self.redis_calls() - calls_before
        trips = self.round_trips() - trips_before

        def percentiles(values: list[float]) -> dict[str, float]:
            ordered = sorted(values)
            pick = lambda q: ordered[min(len(ordered) - 1, int(q * len(ordered)))]  # noqa: E731
            return {"p50": round(pick(0.50) * 1000, 2), "p95": round(pick(0.95) * 1000, 2),
                    "p99": round(pick(0.99) * 1000, 2)}

        workers = [p for p in process_tree(self.broker.pid) if p != self.broker.pid]
        return {
            "workers": self.workers, "clients": self.clients, "signins": total,
            "concurrency": concurrency,
            "signins_per_second": round(total / elapsed, 1),
            "latency_ms": {s: percentiles([r[s] for r in results]) for s in (*STEPS, "total")},
            "broker_cpu_ms_per_signin": round(cpu * 1000 / total, 2),
            "broker_cpu_ms_per_step": {s: round(statistics.mean(v) * 1000, 2)
                                       for s, v in per_step_cpu.items() if v},
            "redis_commands_per_signin": round(calls / total, 2),
            "redis_round_trips_per_signin": round(trips / total, 2) if trips else None,
            "redis_bytes_per_pending_flow": flow_bytes,
            "redis_bytes_per_session": session_bytes,
            "peak_rss_kb_per_worker": max((peak_rss_kb(p) for p in workers), default=0),
        }


def print_table(result: dict) -> None:
    print(f"\nworkers={result['workers']} clients={result['clients']} "
          f"signins={result['signins']} concurrency={result['concurrency']}")
    print(f"  sign-ins per second: {result['signins_per_second']}")
    print(f"  broker CPU per sign-in: {result['broker_cpu_ms_per_signin']} ms "
          f"(per step, sequential: {result['broker_cpu_ms_per_step']})")
    print(f"  Redis per sign-in: {result['redis_commands_per_signin']} commands, "
          f"{result['redis_round_trips_per_signin']} round trips; "
          f"{result['redis_bytes_per_pending_flow']} B per pending flow, "
          f"{result['redis_bytes_per_session']} B per session")
    print(f"  peak RSS per worker: {result['peak_rss_kb_per_worker']} kB")
    print("  latency ms      p50      p95      p99")
    for step, values in result["latency_ms"].items():
        print(f"  {step:<12}{values['p50']:>8}{values['p95']:>9}{values['p99']:>9}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signins", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--sequential", type=int, default=30,
                        help="sign-ins run one request at a time to attribute CPU to steps")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 1000])
    parser.add_argument("--output", default=str(ROOT / "benchmarks" / "results.jsonl"))
    args = parser.parse_args(argv)
    results = []
    for clients in args.clients:
        for workers in args.workers:
            bench = Bench(workers, clients)
            try:
                bench.start()
                result = bench.run(args.signins, args.concurrency, args.sequential)
            finally:
                bench.stop()
            print_table(result)
            results.append(result)
    by = {(r["workers"], r["clients"]): r for r in results}
    summary = {"results": results}
    for clients in args.clients:
        if (1, clients) in by and (2, clients) in by:
            summary[f"scaling_2_over_1_workers_clients_{clients}"] = round(
                by[(2, clients)]["signins_per_second"] / by[(1, clients)]["signins_per_second"], 2)
    line = json.dumps(summary)
    with open(args.output, "a") as handle:
        handle.write(line + "\n")
    print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
