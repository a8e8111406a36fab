"""xmlsec and lxml must share one libxml2, or signed documents break in odd ways at run time."""

from __future__ import annotations

import lxml.etree
import xmlsec

from tests import hub_messages
from tests.oidc_client import authorize, post_to_acs


def test_lxml_and_xmlsec_are_built_on_the_same_libxml2():
    assert lxml.etree.LIBXML_VERSION == xmlsec.get_libxml_version()
    assert lxml.etree.LIBXML_COMPILED_VERSION == xmlsec.get_libxml_compiled_version()


def test_a_signed_and_encrypted_response_is_processed(stack):
    attempt = authorize(stack)
    answer = post_to_acs(stack, hub_messages.success(stack, attempt.authn_request_id),
                         attempt.relay_state)
    assert answer.status_code == 302
    assert "code=" in answer.headers["Location"]
