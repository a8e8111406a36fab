"""The cached hand-off page is exactly what a full render gives, in each language."""

from __future__ import annotations

import pytest
from flask import render_template

from broker.web.design import current_language
from broker.web.page_cache import render_with_holes


@pytest.mark.parametrize("language", ["en", "cy"])
def test_cached_hand_off_page_equals_a_full_render(stack, language):
    values = {"destination": "https://hub.example/SSO?a=1&b=<2>", "saml_request": "PHNhbWw+\"'",
              "relay_state": "flow&id", "csp_nonce": "n0nce",
              "language_switch_url": "/authorize?client_id=x&ui_locales=cy"}
    with stack.broker_app.test_request_context(f"/authorize?ui_locales={language}"):
        from flask import g

        g.ui_locale = language
        full = render_template("hub_handoff.html", **values)
        first = render_with_holes("hub_handoff.html", current_language(), **values)
        second = render_with_holes("hub_handoff.html", current_language(), **values)
    assert first == full and second == full
    assert 'value="PHNhbWw+&#34;&#39;"' in full
