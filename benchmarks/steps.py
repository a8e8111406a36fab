"""Each sign-in step's CPU inside the broker's process, without HTTP: `python -m benchmarks.steps`.

`signin.py` measures the broker as it runs (gunicorn, sockets, several workers); this measures
what the application itself costs per step by calling its WSGI entry point directly with
prepared requests, on one thread, so a change to the broker's own code shows without gunicorn's
and the kernel's share and without the noise of concurrency. `--profile STEP` prints the
functions that step spends its CPU in (cProfile on the process clock, so waiting on Redis does
not count; `BENCH_PROFILE_SORT=tottime` sorts by own time, `BENCH_PROFILE_CALLERS=regex` adds
who calls the matching functions, `BENCH_PROFILE_DUMP=file` keeps the stats). Beside the CPU it
counts, per step, the Redis round trips the broker's own client makes
(`broker_redis_round_trips_total`, one per command or pipeline: deterministic, whatever else the
machine does) and the bytes a pending flow and a broker session take in Redis (MEMORY USAGE).
Needs a Redis server (`--redis-url`, default the local one; keys under a private prefix, removed
afterwards).
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import io
import operator
import os
import pstats
import re
import secrets
import shutil
import sys
import tempfile
import threading
import time
from hashlib import sha256
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlparse

import redis
from werkzeug.serving import make_server

from benchmarks.signin import CALLBACK, SECRET, build_hub_responses, free_port, write_config
from broker.app import create_app
from broker.config import load_config
from broker.devtools.demo import stub_hub_config
from broker.devtools.keys import ensure_demo_keys
from broker.devtools.stub_hub.app import create_stub_hub
from broker.observability import REDIS_ROUND_TRIPS

STEPS = ("authorize", "acs", "continue", "token", "userinfo")


class Steps:
    def __init__(self, redis_url: str):
        self.tmp = Path(tempfile.mkdtemp(prefix="broker-steps-"))
        keys = ensure_demo_keys(self.tmp / "keys")
        broker_port, hub_port = free_port(), free_port()
        self.broker_url = f"http://127.0.0.1:{broker_port}"
        self.prefix = f"steps-{secrets.token_hex(4)}:"
        path = write_config(self.tmp, keys, self.broker_url, f"http://127.0.0.1:{hub_port}",
                            redis_url, clients=1)
        path.write_text(path.read_text().replace("key_prefix: 'bench:'",
                                                 f"key_prefix: '{self.prefix}'"))
        self.config = load_config(path, environ={})
        self.hub = stub_hub_config(self.config, keys, f"http://127.0.0.1:{hub_port}")
        self.hub_server = make_server("127.0.0.1", hub_port, create_stub_hub(self.hub),
                                      threaded=True)
        threading.Thread(target=self.hub_server.serve_forever, daemon=True).start()
        self.app = create_app(self.config)
        self.redis = redis.Redis.from_url(redis_url)

    def close(self) -> None:
        self.hub_server.shutdown()
        for key in self.redis.scan_iter(f"{self.prefix}*"):
            self.redis.delete(key)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def call(self, method: str, path: str, query: str = "", body: bytes = b"",
             headers: dict[str, str] | None = None) -> tuple[str, dict[str, str], bytes]:
        environ = {
            "REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
            "SERVER_NAME": "127.0.0.1", "SERVER_PORT": self.broker_url.rsplit(":", 1)[1],
            "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": "127.0.0.1", "wsgi.version": (1, 0),
            "wsgi.url_scheme": "http", "wsgi.input": io.BytesIO(body), "wsgi.errors": sys.stderr,
            "wsgi.multithread": True, "wsgi.multiprocess": False, "wsgi.run_once": False,
            "HTTP_HOST": self.broker_url.removeprefix("http://"),
        }
        if body:
            environ.update(CONTENT_TYPE="application/x-www-form-urlencoded",
                           CONTENT_LENGTH=str(len(body)))
        for name, value in (headers or {}).items():
            environ["HTTP_" + name.upper().replace("-", "_")] = value
        answer: dict = {}

        def start_response(status, response_headers, exc_info=None):
            answer.update(status=status, headers=dict(response_headers))
            answer["headers"]["Set-Cookie"] = "; ".join(
                value for name, value in response_headers if name.lower() == "set-cookie")

        payload = b"".join(self.app(environ, start_response))
        return answer["status"], answer["headers"], payload

    # Each step takes what the previous step produced; `prepare` makes the inputs of a batch.
    def authorize(self, challenge: str) -> tuple[str, dict[str, str], bytes]:
        return self.call("GET", "/authorize", urlencode({
            "response_type": "code", "client_id": "bench-0", "scope": "openid profile address",
            "redirect_uri": CALLBACK, "state": "s", "nonce": "n", "code_challenge": challenge,
            "code_challenge_method": "S256"}))

    def bytes_of(self, kind: str) -> int | None:
        """The median MEMORY USAGE of up to 50 keys of one kind (this run's prefix only)."""
        keys = list(self.redis.scan_iter(f"{self.prefix}{kind}:*", count=1000))[:50]
        sizes = sorted(self.redis.memory_usage(k) or 0 for k in keys)
        return sizes[len(sizes) // 2] if sizes else None

    def run(self, count: int, profile: str | None, calls: bool = False,
            counted: str | None = None) -> dict[str, float]:
        """`counted`: the step whose requests are made through `operator.call`, so that callgrind
        counts only them (`--toggle-collect=_operator_call`; benchmarks.instructions)."""
        verifiers = [secrets.token_urlsafe(48) for _ in range(count)]
        challenges = [base64.urlsafe_b64encode(sha256(v.encode()).digest()).rstrip(b"=").decode()
                      for v in verifiers]
        profiler = cProfile.Profile(time.process_time)
        cpu: dict[str, float] = {}
        self.trips: dict[str, float] = {}
        self.calls: dict[str, float] = {}

        def measured(step: str, requests):
            trips = REDIS_ROUND_TRIPS._value.get()
            counter = cProfile.Profile() if calls else None
            started = time.process_time()
            if profile == step:
                profiler.enable()
            elif counter:
                counter.enable()
            results = [operator.call(request) if step == counted else request()
                       for request in requests]
            profiler.disable()
            if counter:
                counter.disable()
                self.calls[step] = pstats.Stats(counter).total_calls / count
            cpu[step] = (time.process_time() - started) * 1000 / count
            self.trips[step] = (REDIS_ROUND_TRIPS._value.get() - trips) / count
            return results

        pages = measured("authorize", [lambda c=c: self.authorize(c) for c in challenges])
        relay_states, request_ids, bindings = [], [], []
        for status, headers, page in pages:
            assert status.startswith("200"), status
            bindings.append(re.search(r"broker_binding=([^;]+)", headers["Set-Cookie"]).group(1))
            text = page.decode()
            relay_states.append(re.search(r'name="RelayState" value="([^"]+)"', text).group(1))
            request = base64.b64decode(
                re.search(r'name="SAMLRequest" value="([^"]+)"', text).group(1)).decode()
            request_ids.append(re.search(r'ID="([^"]+)"', request).group(1))
        self.flow_bytes = self.bytes_of("flow")
        answers = build_hub_responses((self.hub.signer, self.hub.idp,
                                       self.config.saml.encryption[0].cert_pem,
                                       self.config.acs_url, request_ids))
        bodies = [urlencode({"SAMLResponse": a, "RelayState": r}).encode()
                  for a, r in zip(answers, relay_states, strict=True)]
        redirects = measured("acs", [lambda b=b: self.call("POST", "/saml/acs", body=b)
                                     for b in bodies])
        continuations = []
        for status, headers, _ in redirects:
            assert status.startswith("303"), status
            continuations.append(urlparse(headers["Location"]))
        redirects = measured("continue", [
            lambda u=u, b=b: self.call("GET", u.path, u.query,
                                       headers={"Cookie": f"broker_binding={b}"})
            for u, b in zip(continuations, bindings, strict=True)])
        codes = []
        for status, headers, _ in redirects:
            assert status.startswith("302"), status
            codes.append(parse_qs(urlparse(headers["Location"]).query)["code"][0])
        self.session_bytes = self.bytes_of("session")
        basic = "Basic " + base64.b64encode(f"bench-0:{SECRET}".encode()).decode()
        token_bodies = [urlencode({"grant_type": "authorization_code", "code": code,
                                   "code_verifier": verifier, "redirect_uri": CALLBACK}).encode()
                        for code, verifier in zip(codes, verifiers, strict=True)]
        tokens = measured("token", [lambda b=b: self.call("POST", "/token", body=b, headers={
            "Authorization": basic}) for b in token_bodies])
        import json

        bearer = [json.loads(payload)["access_token"] for _status, _h, payload in tokens]
        measured("userinfo", [lambda t=t: self.call("GET", "/userinfo", headers={
            "Authorization": f"Bearer {t}"}) for t in bearer])
        if profile:
            stats = pstats.Stats(profiler)
            stats.sort_stats(os.environ.get("BENCH_PROFILE_SORT", "cumulative")).print_stats(40)
            if os.environ.get("BENCH_PROFILE_DUMP"):
                stats.dump_stats(os.environ["BENCH_PROFILE_DUMP"])
            if os.environ.get("BENCH_PROFILE_CALLERS"):
                stats.print_callers(os.environ["BENCH_PROFILE_CALLERS"])
        return cpu


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--signins", type=int, default=300)
    parser.add_argument("--rounds", type=int, default=3, help="the median round is reported")
    parser.add_argument("--profile", choices=STEPS)
    parser.add_argument("--calls", action="store_true",
                        help="also count Python function calls per step (cProfile: slower, but "
                             "the same on a busy machine as on a quiet one)")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--counted", choices=STEPS,
                        help="make this step's requests through operator.call, for callgrind "
                             "(benchmarks.instructions runs it)")
    args = parser.parse_args(argv)
    steps = Steps(args.redis_url)
    try:
        steps.run(5 if args.counted else 20, None)  # warm: metadata, keys, templates, schemas
        if args.counted:
            steps.run(args.signins, None, counted=args.counted)
            return 0
        rounds = [steps.run(args.signins, args.profile if r == 0 else None)
                  for r in range(args.rounds)]
        trips = steps.trips
        if args.calls:
            steps.run(args.signins, None, calls=True)
    finally:
        steps.close()
    rounds.sort(key=lambda r: sum(r.values()))
    median = rounds[(len(rounds) - 1) // 2]
    print("CPU ms per step, in-process (median round): " + ", ".join(
        f"{step} {median[step]:.2f}" for step in STEPS) + f"; total {sum(median.values()):.2f}")
    print("Redis round trips per step, the broker's own client: " + ", ".join(
        f"{step} {trips[step]:.2f}" for step in STEPS) + f"; total {sum(trips.values()):.2f}")
    if args.calls:
        print("Python function calls per step: " + ", ".join(
            f"{step} {steps.calls[step]:.0f}" for step in STEPS)
            + f"; total {sum(steps.calls.values()):.0f}")
    print(f"Redis bytes: {steps.flow_bytes} per pending flow, {steps.session_bytes} per session")
    return 0


if __name__ == "__main__":
    sys.exit(main())
