"""Every message the resident can see exists in English and in Welsh."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from broker.web.design import TRANSLATIONS

ROOT = Path(__file__).resolve().parents[2]
WELSH = TRANSLATIONS / "cy" / "LC_MESSAGES" / "messages.po"


def extracted_messages(tmp_path: Path) -> set[str]:
    """What `make translations` would extract from the code and templates today."""
    pot = tmp_path / "messages.pot"
    subprocess.run([sys.executable, "-m", "babel.messages.frontend", "extract", "-k", "_l",
                    "-F", "babel.cfg", "-o", str(pot), "."], cwd=ROOT, check=True, capture_output=True)
    with pot.open("rb") as f:
        return {message.id for message in read_po(f) if message.id}


def welsh_catalogue():
    with WELSH.open("rb") as f:
        return read_po(f, locale="cy")


def test_every_message_in_the_code_is_in_the_welsh_catalogue(tmp_path):
    catalogue = welsh_catalogue()
    missing = sorted(m for m in extracted_messages(tmp_path) if catalogue.get(m) is None)
    assert missing == [], "run `make translations` and translate: " + "; ".join(missing)


def test_every_welsh_message_is_translated_and_not_fuzzy():
    untranslated = [m.id for m in welsh_catalogue() if m.id and (not m.string or m.fuzzy)]
    assert untranslated == []


def test_welsh_messages_keep_the_placeholders_of_the_english():
    problems = [(m.id, errors) for m in welsh_catalogue() if m.id
                for errors in [list(m.check(welsh_catalogue()))] if errors]
    assert problems == []
