"""The process-wide shortcuts given to python3-saml answer exactly as the library would."""

from __future__ import annotations

import pytest
from onelogin.saml2 import response as response_module
from onelogin.saml2.utils import OneLogin_Saml2_Utils
from onelogin.saml2.xml_utils import OneLogin_Saml2_XML

from broker.hub.saml_clock import parse_saml_time
from broker.hub.saml_xpath import compiled

TIMES = [
    "2026-11-30T10:00:00Z", "2026-11-30T10:00:00.123Z", "2026-11-30T10:00:00.123456789Z",
    "2026-11-30T10:00:00", "2026-11-30T10:00:00.Z", "2024-02-29T23:59:59Z", "1970-01-01T00:00:00Z",
    # Refused (or read) by the library in its own way; the shortcut must do the same.
    "2026-13-01T00:00:00Z", "2025-02-29T00:00:00Z", "2026-11-30T24:00:00Z",
    "2026-11-30T10:00:60Z", "2026-11-30T10:00:00+01:00", "2026-11-30 10:00:00Z", "",
    "2026-11-30T10:00:00ZZ", "0000-01-01T00:00:00Z", "2026-1-30T10:00:00Z", "2026-11-30T1:0:0Z",
    "٢٠٢٦-11-30T10:00:00Z", "2026-11-30T10:00:00.\n", "2026-11-30T10:00:00Z\n",
]


def _outcome(parse, text):
    try:
        return ("value", parse(text))
    except Exception as exc:  # the library raises ValueError or a bare Exception
        return ("error", type(exc))


@pytest.mark.parametrize("text", TIMES)
def test_saml_times_parse_as_python3_saml_parses_them(text):
    assert _outcome(parse_saml_time, text) == _outcome(OneLogin_Saml2_Utils.parse_SAML_to_time,
                                                      text)


def test_python3_samls_response_module_uses_the_shortcuts():
    assert response_module.OneLogin_Saml2_Utils.parse_SAML_to_time is parse_saml_time
    assert response_module.OneLogin_Saml2_XML.query is not OneLogin_Saml2_XML.query


def test_compiled_queries_find_the_nodes_the_library_finds(stack, send, monkeypatch):
    """Every query python3-saml makes while it checks a real signed and encrypted Response is
    answered both ways, and the answers compared."""
    from tests.hub.conftest import assert_signed_in
    from tests.hub_messages import forge

    shortcut = response_module.OneLogin_Saml2_XML.query
    asked = []

    def both(dom, query, context=None, tagid=None):
        found = shortcut(dom, query, context, tagid)
        assert found == OneLogin_Saml2_XML.query(dom, query, context, tagid), query
        assert compiled(query) is compiled(query)  # compiled once on this thread
        asked.append(query)
        return found

    monkeypatch.setattr(response_module.OneLogin_Saml2_XML, "query", staticmethod(both))
    assert_signed_in(send(lambda a: forge(stack, a.authn_request_id)))
    assert len(asked) > 20 and len(set(asked)) > 5
