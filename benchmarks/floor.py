"""What the broker's stack costs before the broker does anything: `python -m benchmarks.floor`.

The floor under issue #8's CPU budget, each part measured alone on this machine: gunicorn's
gthread worker answering a WSGI app that does nothing (over keep-alive, as the benchmark drives
the broker), one redis-py round trip, and the signatures a sign-in makes. benchmarks/README.md
adds these up against the budget.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import redis

ROOT = Path(__file__).resolve().parent.parent
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def hello(environ, start_response):
    """The WSGI app that does nothing: reads the body, answers two bytes."""
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length:
        environ["wsgi.input"].read(length)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "2")])
    return [b"ok"]


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / CLOCK_TICKS


# The HTTP servers compared in docs/adr/0018-http-server-stays-gunicorn-gthread.md, each serving
# `hello` from one worker process. Sync workers close the connection after each response
# (gunicorn's sync worker has no keep-alive), so their figure includes accepting a connection
# per request, as it would behind a proxy.
SERVERS = {
    "gunicorn-gthread-2": ["-m", "gunicorn", "-k", "gthread", "--threads", "2"],
    "gunicorn-gthread-1": ["-m", "gunicorn", "-k", "gthread", "--threads", "1"],
    "gunicorn-sync": ["-m", "gunicorn", "-k", "sync"],
    "granian-wsgi": ["-m", "granian", "--interface", "wsgi", "--blocking-threads", "1",
                     "--no-access-log", "--log-level", "warning"],
}


def server_command(name: str, port: int) -> list[str]:
    if name.startswith("granian"):
        return [sys.executable, *SERVERS[name], "--host", "127.0.0.1", "--port", str(port),
                "--workers", "1", "benchmarks.floor:hello"]
    return [sys.executable, *SERVERS[name], "-w", "1", "-b", f"127.0.0.1:{port}",
            "--log-level", "warning", "benchmarks.floor:hello"]


def server_per_request(name: str, requests: int) -> dict[str, float]:
    """CPU ms per request of the server's processes (master and worker) for one GET and one
    ACS-sized POST, over keep-alive where the server keeps connections open."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(server_command(name, port), cwd=ROOT, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", port)).close()
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(1.0)
        pids = [server.pid] + [int(p) for p in subprocess.run(
            ["pgrep", "-P", str(server.pid)], capture_output=True, text=True).stdout.split()]
        body = b"SAMLResponse=" + b"A" * 12_000  # an ACS-sized form
        kinds = {
            "GET": b"GET /authorize?client_id=x HTTP/1.1\r\nHost: x\r\n\r\n",
            "POST 12 KB": (b"POST /saml/acs HTTP/1.1\r\nHost: x\r\nContent-Type: "
                           b"application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n"
                           % len(body)) + body,
        }
        result = {}
        for kind, request in kinds.items():
            connection = socket.create_connection(("127.0.0.1", port))
            before = cpu_seconds(pids)
            for _ in range(requests):
                connection.sendall(request)
                answer = b""
                while not answer.endswith(b"ok"):
                    chunk = connection.recv(65536)
                    if not chunk:
                        raise RuntimeError(f"{name} closed the connection mid-response")
                    answer += chunk
                if b"connection: close" in answer.lower():
                    connection.close()
                    connection = socket.create_connection(("127.0.0.1", port))
            result[kind] = (cpu_seconds(pids) - before) * 1000 / requests
            connection.close()
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


def gunicorn_per_request(requests: int, threads: int) -> dict[str, float]:
    return server_per_request(f"gunicorn-gthread-{threads}", requests)


def redis_per_round_trip(url: str, count: int) -> dict[str, float]:
    client = redis.Redis.from_url(url)
    key = "floor-benchmark:value"
    client.set(key, "v" * 700, ex=60)  # about a pending flow's size
    started = time.process_time()
    for _ in range(count):
        client.get(key)
    get = (time.process_time() - started) * 1000 / count
    started = time.process_time()
    for _ in range(count):
        pipeline = client.pipeline(transaction=False)
        pipeline.set(key, "v" * 700, ex=60)
        pipeline.set(key + ":2", "1", ex=60)
        pipeline.execute()
    pipelined = (time.process_time() - started) * 1000 / count
    client.delete(key, key + ":2")
    return {"GET": get, "pipeline of 2 SETs": pipelined}


def signatures(count: int) -> dict[str, float]:
    from joserfc import jwt
    from joserfc.jwk import ECKey

    from broker.devtools.keys import self_signed_pair
    from broker.hub.saml_signing import sign_after_issuer

    key_pem, cert_pem = self_signed_pair("floor benchmark")
    request = ('<p:AuthnRequest xmlns:p="urn:oasis:names:tc:SAML:2.0:protocol" '
               'xmlns:a="urn:oasis:names:tc:SAML:2.0:assertion" ID="_f" Version="2.0" '
               'IssueInstant="2026-01-01T00:00:00Z"><a:Issuer>https://broker</a:Issuer>'
               '</p:AuthnRequest>')
    sign_after_issuer(request, key_pem, cert_pem)
    started = time.process_time()
    for _ in range(count):
        sign_after_issuer(request, key_pem, cert_pem)
    rsa = (time.process_time() - started) * 1000 / count
    ec = ECKey.generate_key("P-256")
    started = time.process_time()
    for _ in range(count):
        jwt.encode({"alg": "ES256"}, {"sub": "s", "iss": "i", "aud": "a"}, ec)
    es256 = (time.process_time() - started) * 1000 / count
    return {"AuthnRequest (RSA-SHA256, xmlsec, C14N)": rsa, "ID token (ES256)": es256}


def compare_servers(names: list[str], requests: int, rounds: int) -> int:
    """Each server measured once per round, in turn, so background load falls on all alike;
    the median round of each is reported, with every round beside it."""
    seen: dict[str, list[dict[str, float]]] = {name: [] for name in names}
    for _ in range(rounds):
        for name in names:
            seen[name].append(server_per_request(name, requests))
    print(f"CPU ms per request, app that does nothing, one worker ({os.cpu_count()} cores), "
          f"median of {rounds} rounds [each round]:")
    for name, results in seen.items():
        for kind in results[0]:
            values = sorted(r[kind] for r in results)
            print(f"  {name:<20} {kind:<11} {values[len(values) // 2]:.3f} "
                  f"[{', '.join(f'{r[kind]:.3f}' for r in results)}]")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--servers", nargs="*", choices=sorted(SERVERS),
                        help="compare these HTTP servers instead (alternating rounds)")
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    if args.servers:
        return compare_servers(args.servers, args.requests, args.rounds)
    print(f"CPU ms per unit, this machine ({os.cpu_count()} cores):")
    for name, value in gunicorn_per_request(args.requests, args.threads).items():
        print(f"  gunicorn gthread ({args.threads} threads), app that does nothing, {name}: "
              f"{value:.3f}")
    for name, value in redis_per_round_trip(args.redis_url, args.requests).items():
        print(f"  redis-py, {name}: {value:.3f}")
    for name, value in signatures(500).items():
        print(f"  {name}: {value:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
