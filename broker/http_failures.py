"""One plain sentence for a failed outbound HTTP request, for operators.

requests' own text is urllib3's ("HTTPSConnectionPool(host=…): Max retries exceeded with url: …
(Caused by NewConnectionError(…))"), which buries the cause; the cause is what an operator acts on.
"""

from __future__ import annotations

from urllib.parse import urlparse

import requests


def describe_request_failure(exc: BaseException, url: str) -> str:
    parsed = urlparse(url)
    host = parsed.hostname or url
    where = f"{host}:{parsed.port}" if parsed.port else host
    if isinstance(exc, requests.HTTPError) and exc.response is not None:
        return f"{url} answered HTTP {exc.response.status_code}"
    if isinstance(exc, requests.exceptions.SSLError):
        return f"TLS with {where} failed: its certificate is not trusted or does not name {host}"
    if isinstance(exc, requests.Timeout):
        return f"{where} did not answer in time"
    if isinstance(exc, requests.ConnectionError):
        reason = getattr(exc.args[0], "reason", None) if exc.args else None
        text = str(reason or exc)
        if type(reason).__name__ == "NameResolutionError" or "resolve" in text:
            return f"the host name {host} does not resolve"
        if "refused" in text.lower():
            return f"{where} refused the connection"
        return f"cannot connect to {where}"
    if isinstance(exc, requests.RequestException):
        return f"the request to {url} failed ({type(exc).__name__})"
    return str(exc)
