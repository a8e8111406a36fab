"""Pages rendered once per language and process, with per-request values filled in.

The hub hand-off page is on every sign-in's path, and rendering GOV.UK Frontend's Jinja template
costs several milliseconds of CPU; only a handful of values on it change per request. Each value
is rendered as a unique placeholder, then replaced with its HTML-escaped value, so the output is
byte-for-byte what a full render gives.
"""

from __future__ import annotations

import secrets
import threading

from flask import current_app, render_template
from markupsafe import escape

from broker.web.brand_pages import current_brand

_MARK = secrets.token_hex(8)
_cache: dict[tuple[int, str, str, str], str] = {}
_lock = threading.Lock()


def placeholder(name: str) -> str:
    return f"__{_MARK}_{name}__"


def render_with_holes(template: str, language: str, **holes: str | None) -> str:
    """One shell per app, template, language and brand (a brand's version changes with it)."""
    brand = current_brand()
    key = (id(current_app._get_current_object()), template, language,
           f"{brand.key}@{brand.version}" if brand else "")
    shell = _cache.get(key)
    if shell is None:
        shell = render_template(template, **{name: placeholder(name) for name in holes})
        with _lock:
            _cache[key] = shell
    for name, value in holes.items():
        shell = shell.replace(placeholder(name), str(escape(value or "")))
    return shell


def clear() -> None:
    with _lock:
        _cache.clear()
