"""Whose pages these are: a council's brand on every page of its residents' journey, a neutral
deployment-wide brand on pages that belong to no council (an error before a client is known).

The broker is not a GOV.UK service: its pages must not carry the GOV.UK crown, logotype, Royal
Arms or the GDS Transport typeface (GOV.UK Design System, "Generic header" and "Typeface"). They
use the generic header with the brand's name, logo and colour instead, and the councils'
stylesheet (broker/web/styles/councils.scss) with a system font stack.

A brand's colour is the header's background, under white text; a colour that fails WCAG 2.2 AA
contrast (4.5:1) with white is refused when the configuration is read, so the broker does not
start with it and `broker check-config` names it. Part of configuration (no Flask here):
broker.web.brand_pages serves what it reads.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Any

# WCAG 2.2 success criterion 1.4.3 (contrast, minimum), level AA, for text of any size.
AA_TEXT_CONTRAST = 4.5
HEADER_TEXT_COLOUR = "#ffffff"
MAX_LOGO_BYTES = 256 * 1024
LOGO_TYPES = {"image/png": "png", "image/jpeg": "jpg", "image/webp": "webp", "image/svg+xml": "svg"}
DEPLOYMENT = "deployment"
_COLOUR = re.compile(r"#[0-9a-fA-F]{6}")


@dataclass(frozen=True)
class Text:
    """A text in English and Welsh (Welsh falls back to English when not given)."""

    en: str
    cy: str

    def in_language(self, language: str) -> str:
        return self.cy if language == "cy" else self.en


@dataclass(frozen=True)
class Logo:
    content: bytes
    media_type: str
    alt: Text  # empty: decorative, the brand's name is shown beside it


@dataclass(frozen=True)
class Brand:
    """`key`: "deployment" or "councils/<id>", the brand's place under /brand/."""

    key: str
    name: Text
    colour: str | None = None  # "#rrggbb", lower case
    logo: Logo | None = None
    show_name: bool = True
    url: str | None = None  # where the header's name and logo lead
    # The footer's links and the contact details on pages whose next step is the council.
    accessibility_statement_url: str | None = None
    privacy_notice_url: str | None = None
    contact: tuple[tuple[str, str], ...] = ()  # ("phone", "0300 …"), in the configured order

    @cached_property
    def version(self) -> str:
        """Changes whenever what /brand/ serves for this brand changes: its URLs can be cached
        for a year."""
        digest = hashlib.sha256((self.colour or "").encode())
        if self.logo:
            digest.update(self.logo.media_type.encode() + b"\0" + self.logo.content)
        return digest.hexdigest()[:16]


def neutral_brand() -> Brand:
    """The deployment's brand when the operator configures none."""
    return Brand(key=DEPLOYMENT, name=Text("Council sign-in", "Mewngofnodi i’r cyngor"))


def relative_luminance(colour: str) -> float:
    """WCAG 2.2's relative luminance of an sRGB colour "#rrggbb"."""
    def channel(hex_pair: str) -> float:
        value = int(hex_pair, 16) / 255
        return value / 12.92 if value <= 0.04045 else ((value + 0.055) / 1.055) ** 2.4

    r, g, b = (channel(colour[i:i + 2]) for i in (1, 3, 5))
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast_ratio(first: str, second: str) -> float:
    lighter, darker = sorted((relative_luminance(first), relative_luminance(second)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def logo_media_type(content: bytes) -> str | None:
    """What the file is, from its content (never its name)."""
    if content.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if content.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if content[:4] == b"RIFF" and content[8:12] == b"WEBP":
        return "image/webp"
    head = content[:2048].lstrip(b"\xef\xbb\xbf \t\r\n").lower()
    if (head.startswith((b"<svg", b"<?xml", b"<!--")) and b"<svg" in head
            and b"<!doctype" not in head and b"<!entity" not in head):
        return "image/svg+xml"
    return None


Fail = Callable[[str, str], Exception]


def read_brand(raw: Any, prefix: str, *, key: str, default_name: Text, default_url: str | None,
               base: Path, fail: Fail) -> Brand:
    """`branding:` (at the top level or under a council) into a Brand; `fail(key, problem)` makes
    the configuration error, so every problem names its file and key."""
    if raw is None:
        return Brand(key=key, name=default_name, url=default_url)
    if not isinstance(raw, Mapping):
        raise fail(prefix.rstrip("."), "must be a mapping")
    unknown = set(raw) - {"name", "colour", "logo", "logo_alt", "show_name", "url"}
    if unknown:
        raise fail(f"{prefix}{sorted(unknown)[0]}",
                   "unknown key; use name, colour, logo, logo_alt, show_name or url")
    name = _text(raw.get("name"), f"{prefix}name", fail) or default_name
    colour = raw.get("colour")
    if colour is not None:
        colour = _colour(colour, f"{prefix}colour", fail)
    logo = None
    if raw.get("logo") is not None:
        logo = _logo(raw, prefix, base, fail)
    elif raw.get("logo_alt") is not None:
        raise fail(f"{prefix}logo_alt", "is only used with a logo")
    show_name = raw.get("show_name", True)
    if not isinstance(show_name, bool):
        raise fail(f"{prefix}show_name", f"must be true or false, got {show_name!r}")
    if not show_name and (logo is None or not logo.alt.en):
        raise fail(f"{prefix}show_name", "false needs a logo with logo_alt (the name it shows)")
    url = raw.get("url", default_url)
    if url is not None and (not isinstance(url, str) or not re.match(r"https?://[^/\s]+", url)):
        raise fail(f"{prefix}url", f"must be an http(s) URL, got {url!r}")
    return Brand(key=key, name=name, colour=colour, logo=logo, show_name=show_name, url=url)


def _text(value: Any, key: str, fail: Fail) -> Text | None:
    if value is None:
        return None
    if isinstance(value, str):
        if not value.strip():
            raise fail(key, "must not be empty")
        return Text(value, value)
    if isinstance(value, Mapping) and isinstance(value.get("en"), str) and value["en"].strip() \
            and set(value) <= {"en", "cy"} and isinstance(value.get("cy", ""), str):
        return Text(value["en"], value.get("cy") or value["en"])
    raise fail(key, "must be text, or a mapping with `en` (and optionally `cy`) text")


def _colour(value: Any, key: str, fail: Fail) -> str:
    if not isinstance(value, str) or not _COLOUR.fullmatch(value):
        raise fail(key, f"must be a colour written #rrggbb, got {value!r}")
    ratio = contrast_ratio(value, HEADER_TEXT_COLOUR)
    if ratio < AA_TEXT_CONTRAST:
        raise fail(key, f"{value} has a contrast ratio of {ratio:.2f}:1 with the white text it "
                        f"carries in the header; WCAG 2.2 AA needs at least {AA_TEXT_CONTRAST}:1 "
                        "(choose a darker colour)")
    return value.lower()


def _logo(raw: Mapping[str, Any], prefix: str, base: Path, fail: Fail) -> Logo:
    key = f"{prefix}logo"
    if not isinstance(raw["logo"], str):
        raise fail(key, "must be the path of an image file")
    path = base / raw["logo"]
    try:
        content = path.read_bytes()
    except OSError:
        raise fail(key, f"file not found: {path}") from None
    if len(content) > MAX_LOGO_BYTES:
        raise fail(key, f"{path} is {len(content)} bytes; a logo may be at most {MAX_LOGO_BYTES}")
    media_type = logo_media_type(content)
    if media_type is None:
        raise fail(key, f"{path} is not a PNG, JPEG, WebP or SVG image")
    alt = _text(raw.get("logo_alt"), f"{prefix}logo_alt", fail) if raw.get("logo_alt") != "" \
        else None
    return Logo(content=content, media_type=media_type, alt=alt or Text("", ""))
