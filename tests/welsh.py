"""What a Welsh page must not show: any text of the broker's catalogue left in English.

The check reads the page as a resident does: its <title> and the visible text of its body
(scripts left out). Text marked `lang="en"` (the switch to English, a cookie's name) and
configuration data (a council's or service's name) are not catalogue text, so they pass."""

from __future__ import annotations

import re
from functools import cache

import lxml.html
from babel.messages.pofile import read_po

from broker.web.design import TRANSLATIONS

PLACEHOLDER = re.compile(r"%\(\w+\)[sd]")


@cache
def english_patterns() -> list[tuple[str, re.Pattern]]:
    """Every English msgid whose Welsh differs, as a pattern that finds it in running text."""
    with (TRANSLATIONS / "cy" / "LC_MESSAGES" / "messages.po").open("rb") as f:
        catalogue = read_po(f, locale="cy")
    patterns = []
    for message in catalogue:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for msgid in ids:
            if msgid in strings:
                continue  # the same in both languages (a product's name)
            parts = [re.escape(part) for part in PLACEHOLDER.split(msgid)]
            body = ".+?".join(parts)
            start = r"\b" if msgid[:1].isalnum() else ""
            end = r"\b" if msgid[-1:].isalnum() else ""
            patterns.append((msgid, re.compile(start + body + end)))
    return patterns


def visible_text(html: str) -> str:
    document = lxml.html.fromstring(html)
    for element in document.xpath('//script | //style | //*[@lang="en"] | //head/*[not(self::title)]'):
        element.drop_tree()
    title = " ".join(document.xpath("//title//text()"))
    body = " ".join(document.xpath("//body//text()"))
    return " ".join(f"{title} {body}".split())


def english_left_on(html: str) -> list[str]:
    """The catalogue's English texts a Welsh page still shows."""
    text = visible_text(html)
    return sorted({msgid for msgid, pattern in english_patterns() if pattern.search(text)})


def title_of(html: str) -> str:
    return " ".join(lxml.html.fromstring(html).findtext(".//title").split())
