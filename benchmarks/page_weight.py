"""Bytes on the wire for the first broker page, with everything it loads (issue 26 item 7).

The first broker page is the one a resident sees on the broker before the hub: the hand-off
that `/authorize` answers, reached as a resident reaches it (the demo council app's Sign in).
It is fetched with `Accept-Encoding: gzip, br`, as a browser on https asks, then each file it
links (stylesheets, scripts, images, icons; each URL once, as a browser fetches it) is fetched
the same way. Printed per file: the body bytes as sent (compressed where the server compresses),
the Content-Encoding and the Cache-Control. The issue's 190,755 bytes are the same measure.

    .venv/bin/python -m benchmarks.page_weight                 # starts `broker demo` on free ports
    .venv/bin/python -m benchmarks.page_weight --council-url https://council.localhost:8443
        # a running stack (the compose stack behind nginx; REQUESTS_CA_BUNDLE=its ca.crt)

Not a test: it prints. tests/web/test_assets.py and tests/browser/test_page_weight.py check
the behaviour (and that Chromium loads exactly the files counted here).
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from urllib.parse import urljoin, urlparse

import lxml.html
import requests

ACCEPT_ENCODING = "gzip, br"
TARGET = 40_000
# What a page makes the browser fetch before it is usable: stylesheets, scripts, images, icons.
SUBRESOURCES = ('//link[@rel="stylesheet" or contains(@rel, "icon")]/@href'
                ' | //script/@src | //img/@src')


@dataclass(frozen=True)
class Transfer:
    url: str
    body_bytes: int
    header_bytes: int
    encoding: str
    cache_control: str


def transfer(response: requests.Response) -> Transfer:
    """Reads the body; urllib3's tell() counts the bytes as they came, before any decoding."""
    response.raise_for_status()
    response.content  # noqa: B018 (reads and decodes the body)
    headers = sum(len(f"{name}: {value}\r\n") for name, value in response.raw.headers.items())
    return Transfer(response.url, response.raw.tell(), headers + len("HTTP/1.1 200 OK\r\n\r\n"),
                    response.headers.get("Content-Encoding", "-"),
                    response.headers.get("Cache-Control", "-"))


def first_broker_page(session: requests.Session, council_url: str) -> tuple[Transfer, str]:
    """The council's Sign in (a link since issue 26), then the redirects to the broker's hand-off
    page."""
    session.get(f"{council_url}/", timeout=30).raise_for_status()
    response = session.get(f"{council_url}/login", allow_redirects=False, timeout=30)
    while response.is_redirect:
        response = session.get(urljoin(response.url, response.headers["Location"]),
                               allow_redirects=False, stream=True, timeout=30)
    return transfer(response), response.text


def weigh(council_url: str) -> list[Transfer]:
    session = requests.Session()
    session.headers["Accept-Encoding"] = ACCEPT_ENCODING
    page, html = first_broker_page(session, council_url)
    document = lxml.html.fromstring(html)
    links = dict.fromkeys(urljoin(page.url, link) for link in document.xpath(SUBRESOURCES))
    return [page] + [transfer(session.get(url, stream=True, timeout=30)) for url in links]


def report(transfers: list[Transfer]) -> str:
    page_host = urlparse(transfers[0].url).netloc
    lines = [f"first broker page: {transfers[0].url.split('?')[0]}  (Accept-Encoding: {ACCEPT_ENCODING})",
             f"{'bytes':>9}  {'encoding':<8}  {'cache-control':<36}  file"]
    for item in transfers:
        parsed = urlparse(item.url)
        where = parsed.path if parsed.netloc == page_host else item.url
        lines.append(f"{item.body_bytes:>9,}  {item.encoding:<8}  {item.cache_control:<36}  {where}")
    body = sum(item.body_bytes for item in transfers)
    headers = sum(item.header_bytes for item in transfers)
    lines += [f"{body:>9,}  total body bytes ({len(transfers)} responses; target {TARGET:,}: "
              f"{'met' if body <= TARGET else 'NOT met'})",
              f"{headers:>9,}  response headers besides (HTTP/1.1)",
              f"at 400 kbit/s: {body * 8 / 400_000:.2f} s of transfer for the bodies"]
    return "\n".join(lines)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@contextmanager
def running_demo():
    """`broker demo` on free ports, with its own demo keys and in-process state store."""
    with tempfile.TemporaryDirectory(prefix="page-weight-") as keys:
        ports = {name: free_port() for name in ("BROKER", "HUB", "COUNCIL", "ONELOGIN")}
        env = {**os.environ, "BROKER_DEMO_HOST": "127.0.0.1", "BROKER_DEMO_KEYS": keys,
               "BROKER_REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
               **{f"BROKER_DEMO_{name}_PORT": str(port) for name, port in ports.items()}}
        process = subprocess.Popen([sys.executable, "-m", "broker.cli", "demo"], env=env,
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        council_url = f"http://127.0.0.1:{ports['COUNCIL']}"
        try:
            deadline = time.time() + 120
            while True:
                if process.poll() is not None or time.time() > deadline:
                    raise SystemExit("broker demo did not start: run it alone to see why")
                try:
                    requests.get(council_url, timeout=2)
                    break
                except requests.RequestException:
                    time.sleep(0.2)
            yield council_url
        finally:
            process.terminate()
            process.wait(timeout=10)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--council-url", help="a running demo council app (default: start the demo)")
    args = parser.parse_args(argv)
    if args.council_url:
        print(report(weigh(args.council_url.rstrip("/"))))
    else:
        with running_demo() as council_url:
            print(report(weigh(council_url)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
