"""Which language a page is shown in: English or Welsh.

Councils in Wales must offer Welsh. The council app chooses with OIDC `ui_locales`, the resident
with the switch on every page, and the choice must survive the hub's cross-site POST back, which
carries no cookie we could rely on: so a flow remembers its language (`Flow.ui_locale`) and a
view that knows the flow puts it in `g.ui_locale` before rendering.
"""

from __future__ import annotations

from flask import g, request
from werkzeug.exceptions import HTTPException

LANGUAGES = ("en", "cy")
DEFAULT_LANGUAGE = "en"
LANGUAGE_NAMES = {"en": "English", "cy": "Cymraeg"}
SWITCH_PARAMETER = "lang"


def ui_locale_from(ui_locales: str | None) -> str:
    """The first language of an OIDC `ui_locales` list (OIDC Core 3.1.2.1) that we support."""
    for tag in (ui_locales or "").split():
        primary = tag.split("-")[0].lower()
        if primary in LANGUAGES:
            return primary
    return DEFAULT_LANGUAGE


def supported(value: str | None) -> str | None:
    return value if value in LANGUAGES else None


def other_language(language: str) -> str:
    return "cy" if language == "en" else "en"


def choose_language(cookie_name: str) -> str:
    """The page's language, most specific first.

    A flow's language, then the switch (`?lang=`), then `ui_locales` on a request that carries it,
    then the resident's earlier choice (cookie), then the browser's preference.
    """
    chosen = supported(g.get("ui_locale"))
    if chosen:
        return chosen
    chosen = supported(request.args.get(SWITCH_PARAMETER))
    if chosen:
        return chosen
    try:
        ui_locales = request.values.get("ui_locales")
    except HTTPException:  # a body too large to read: the 413 page must not read it again
        ui_locales = None
    if ui_locales:
        return ui_locale_from(ui_locales)
    chosen = supported(request.cookies.get(cookie_name))
    if chosen:
        return chosen
    return request.accept_languages.best_match(LANGUAGES) or DEFAULT_LANGUAGE
