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


def gunicorn_per_request(requests: int, threads: int) -> dict[str, float]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "-k", "gthread", "--threads", str(threads), "-w", "1",
         "-b", f"127.0.0.1:{port}", "--log-level", "warning", "benchmarks.floor:hello"],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                connection = socket.create_connection(("127.0.0.1", port))
                break
            except OSError:
                time.sleep(0.1)
        time.sleep(0.5)
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
        for name, request in kinds.items():
            before = cpu_seconds(pids)
            for _ in range(requests):
                connection.sendall(request)
                answer = b""
                while not answer.endswith(b"ok"):
                    answer += connection.recv(65536)
            result[name] = (cpu_seconds(pids) - before) * 1000 / requests
        return result
    finally:
        server.terminate()
        server.wait(timeout=30)


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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=3000)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
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
