"""The one place where python3-saml's internals may be patched, and the version it was read for.

Today nothing is patched. The broker uses python3-saml only through public functions
(`add_sign` for our SP metadata, `parse_SAML_to_time`, its constants); XML is parsed by
broker.hub.saml_xml with the options of python3-saml's parser; Responses are validated by the
broker's own checks on xmlsec's primitives (broker.hub.responses), so the clock, XPath, schema
and decryption-key patches that python3-saml's one-assertion Response class needed are gone.
A patch added later goes in PATCHES, is installed by `install()` when broker.hub is imported,
and is proven installed by tests/hub/test_saml_library.py; the exact version it was written
against is asserted here (docs/adr/0015).
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib.metadata import version
from typing import Any

PYTHON3_SAML_VERSION = "1.16.0"


@dataclass(frozen=True)
class Patch:
    """Replaces `attribute` of `module` (a python3-saml module object) with `replacement`."""

    module: Any
    attribute: str
    replacement: Any
    why: str


PATCHES: tuple[Patch, ...] = ()


class LibraryVersionMismatch(RuntimeError):
    pass


def check_version() -> None:
    installed = version("python3-saml")
    if installed != PYTHON3_SAML_VERSION:
        raise LibraryVersionMismatch(
            f"python3-saml {installed} is installed; broker.hub.saml_library was written for "
            f"{PYTHON3_SAML_VERSION}: read its patches against the new version, then change the "
            "pin in pyproject.toml and here")


def install() -> None:
    check_version()
    for patch in PATCHES:
        setattr(patch.module, patch.attribute, patch.replacement)


def not_installed() -> list[str]:
    return [f"{patch.module.__name__}.{patch.attribute}" for patch in PATCHES
            if getattr(patch.module, patch.attribute) is not patch.replacement]
