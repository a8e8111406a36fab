"""One design for every page: GOV.UK Frontend (assets from npm, macros from govuk-frontend-jinja),
English and Welsh through flask-babel, and a language switch on every page.

The broker, the stub hub and the demo council app all call `init_design`, so the demo looks like
the real thing. Pages extend `design/layout.html`; see that file for the blocks to fill.

With a `BrandBook` (the broker, the demo council app) pages are a council's or the neutral
brand's: generic header, no crown or Royal Arms, the councils' stylesheet (system fonts). Without
one (the stub hub, which stands in for a GOV.UK service) they keep GOV.UK's stylesheet.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlencode

from flask import Flask, g, request
from flask_babel import Babel, get_locale
from jinja2 import ChoiceLoader, FileSystemLoader, PackageLoader, PrefixLoader

from broker.web.assets import COUNCILS_CSS, GOVUK_CSS, assets_blueprint, built_assets
from broker.web.brand_pages import BrandBook, brand_context, install_brands
from broker.web.cookies import cookies
from broker.web.i18n import LANGUAGE_NAMES, SWITCH_PARAMETER, choose_language, other_language

WEB = Path(__file__).resolve().parent
TRANSLATIONS = WEB / "translations"
SHARED_TEMPLATES = WEB / "templates"
LANGUAGE_COOKIE_MAX_AGE = 365 * 24 * 3600


def current_language() -> str:
    return str(get_locale() or "en")


def language_switch_url(ui_locales_endpoints: tuple[str, ...]) -> str | None:
    """Where the switch on this page leads: this page again, in the other language.

    A view can set `g.language_switch_url` (pages rendered from a POST, which a link cannot
    repeat). On an OIDC authorization request the switch rewrites `ui_locales`, so that the flow
    it starts remembers the new language.
    """
    if "language_switch_url" in g:
        return g.language_switch_url
    other = other_language(current_language())
    if request.endpoint in ui_locales_endpoints:
        params = {k: v for k, v in request.values.items() if k != SWITCH_PARAMETER}
        params["ui_locales"] = other
        return f"{request.path}?{urlencode(params)}"
    if request.method != "GET":
        return None
    params = {k: v for k, v in request.args.items() if k != SWITCH_PARAMETER}
    params[SWITCH_PARAMETER] = other
    return f"{request.path}?{urlencode(params)}"


def init_design(app: Flask, *, service_name, organisation, language_cookie: str,
                home_url: str | None = "/", ui_locales_endpoints: tuple[str, ...] = (),
                brands: BrandBook | None = None) -> None:
    """Wires templates, assets, translations, brands and the language switch into `app`.

    `service_name` and `organisation` may be lazy strings (translated per request);
    `organisation` is the header's name when there is no `brands`.
    """
    Babel(app, locale_selector=lambda: choose_language(cookies().name(language_cookie)),
          default_translation_directories=str(TRANSLATIONS))
    app.jinja_loader = ChoiceLoader([
        app.jinja_loader,
        FileSystemLoader(str(SHARED_TEMPLATES)),
        PrefixLoader({"govuk_frontend_jinja": PackageLoader("govuk_frontend_jinja")}),
    ])
    app.jinja_env.trim_blocks = True
    app.jinja_env.lstrip_blocks = True
    app.jinja_env.add_extension("jinja2.ext.do")
    assets = built_assets()
    app.register_blueprint(assets_blueprint(assets))
    app.jinja_env.globals["asset_url"] = assets.url
    if brands is not None:
        install_brands(app, brands)
    stylesheet = COUNCILS_CSS if brands is not None else GOVUK_CSS

    @app.context_processor
    def design_context() -> dict:
        lang = current_language()
        other = other_language(lang)
        return {"lang": lang, "other_lang": other, "other_lang_name": LANGUAGE_NAMES[other],
                "language_switch_url": language_switch_url(ui_locales_endpoints),
                "service_name": service_name, "organisation": organisation,
                "home_url": home_url, "csp_nonce": g.get("csp_nonce", ""),
                "stylesheet": stylesheet, **brand_context(lang)}

    @app.after_request
    def remember_language(response):
        """Keeps a resident's explicit choice for the pages that follow (not identity data)."""
        chosen = g.get("ui_locale") or request.args.get(SWITCH_PARAMETER)
        if chosen in LANGUAGE_NAMES and request.endpoint != "govuk_assets.asset":
            cookies().set(response, language_cookie, chosen, max_age=LANGUAGE_COOKIE_MAX_AGE)
        return response
