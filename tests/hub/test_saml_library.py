"""python3-saml is used as published: its version is the one the broker was read against, and
every patch the fence lists (none today) is installed while nothing else is replaced."""

from __future__ import annotations

from onelogin.saml2 import response as response_module
from onelogin.saml2 import utils as utils_module
from onelogin.saml2 import xml_utils as xml_utils_module

from broker.hub import saml_library


def test_the_installed_python3_saml_is_the_pinned_version():
    saml_library.check_version()


def test_every_listed_patch_is_installed():
    assert saml_library.not_installed() == []


def test_python3_samls_response_module_sees_the_librarys_own_classes():
    """A patch made anywhere but broker.hub.saml_library replaces one of these names."""
    assert response_module.OneLogin_Saml2_Utils is utils_module.OneLogin_Saml2_Utils
    assert response_module.OneLogin_Saml2_XML is xml_utils_module.OneLogin_Saml2_XML


def test_a_version_other_than_the_pinned_one_stops_the_broker(monkeypatch):
    import pytest

    monkeypatch.setattr(saml_library, "version", lambda name: "1.17.0")
    with pytest.raises(saml_library.LibraryVersionMismatch, match="1.17.0"):
        saml_library.install()
