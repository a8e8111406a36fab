"""Brands on pages: which brand a page shows, and the logo and colour files under /brand/.

A view that learns which council a resident came from calls `use_council_brand(council_id)`;
every page it renders then shows that council. Any other page shows the deployment's neutral
brand. The logo and the colour's stylesheet are served from memory at versioned URLs
(`/brand/<key>/<version>/logo`), so browsers keep them for a year and a new logo is a new URL.

The broker also remembers, in a cookie holding only the council's id, the last council a
resident started from: a page that no longer knows the flow ("your sign-in has expired") can
still offer the way back to that council.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from flask import Blueprint, Flask, abort, current_app, g, url_for
from flask_babel import gettext

from broker.config.branding import Brand
from broker.web.cookies import cookies

ONE_YEAR = 365 * 24 * 3600
REMEMBERED_COUNCIL_MAX_AGE = 24 * 3600
# A logo opened on its own must not run anything (an SVG may hold scripts).
LOGO_CSP = "default-src 'none'; style-src 'unsafe-inline'; sandbox"


@dataclass(frozen=True)
class BrandBook:
    """Every brand an app shows: the neutral one and each council's."""

    neutral: Brand
    councils: dict[str, Brand] = field(default_factory=dict)
    # The cookie remembering the last council a resident started from (None: not remembered).
    remembered_council_cookie: str | None = None

    def by_key(self, key: str) -> Brand | None:
        if key == self.neutral.key:
            return self.neutral
        council_id = key.removeprefix("councils/")
        brand = self.councils.get(council_id) if key.startswith("councils/") else None
        return brand


def brand_book() -> BrandBook | None:
    return current_app.extensions.get("brand_book")


def use_council_brand(council_id: str) -> None:
    """This request's pages belong to `council_id`'s journey."""
    book = brand_book()
    if book and council_id in book.councils:
        g.brand = book.councils[council_id]
        g.brand_council = council_id


def current_brand() -> Brand | None:
    book = brand_book()
    if book is None:
        return None
    return g.get("brand") or book.neutral


def current_council_id() -> str | None:
    return g.get("brand_council")


def remembered_council() -> tuple[str, Brand] | None:
    """The council this request's pages belong to, else the last one this browser started from."""
    book = brand_book()
    if book is None:
        return None
    council_id = g.get("brand_council")
    if council_id is None and book.remembered_council_cookie:
        council_id = cookies().get(book.remembered_council_cookie)
    brand = book.councils.get(council_id or "")
    return (council_id, brand) if brand else None


def brand_context(language: str) -> dict:
    brand = current_brand()
    if brand is None:
        return {"brand": None}
    logo = brand.logo
    return {
        "brand": brand,
        "brand_name": brand.name.in_language(language),
        "brand_url": brand.url,
        "brand_logo_url": url_for("brands.asset", key=brand.key, version=brand.version,
                                  asset="logo") if logo else None,
        "brand_logo_alt": logo.alt.in_language(language) if logo else "",
        "brand_css_url": url_for("brands.asset", key=brand.key, version=brand.version,
                                 asset="brand.css") if brand.colour else None,
        "footer_links": footer_links(brand),
    }


def footer_links(brand: Brand) -> list[dict[str, str]]:
    """What every UK public sector page links to: the accessibility statement (Public Sector
    Bodies Accessibility Regulations 2018), the privacy notice (UK GDPR) and the cookies page."""
    links = []
    if brand.accessibility_statement_url:
        links.append({"href": brand.accessibility_statement_url,
                      "text": gettext("Accessibility statement"), "id": "footer-accessibility"})
    if brand.privacy_notice_url:
        links.append({"href": brand.privacy_notice_url, "text": gettext("Privacy notice"),
                      "id": "footer-privacy"})
    if "pages.cookies" in current_app.view_functions:
        links.append({"href": url_for("pages.cookies"), "text": gettext("Cookies"),
                      "id": "footer-cookies"})
    return links


def install_brands(app: Flask, book: BrandBook) -> None:
    app.extensions["brand_book"] = book
    bp = Blueprint("brands", __name__)

    @bp.get("/brand/<path:key>/<version>/<asset>")
    def asset(key: str, version: str, asset: str):
        brand = book.by_key(key)
        if brand is None or version != brand.version:
            abort(404)
        cache = {"Cache-Control": f"public, max-age={ONE_YEAR}, immutable"}
        if asset == "logo" and brand.logo:
            return brand.logo.content, 200, {**cache, "Content-Type": brand.logo.media_type,
                                             "Content-Security-Policy": LOGO_CSP}
        if asset == "brand.css" and brand.colour:
            css = f":root{{--govuk-brand-colour:{brand.colour}}}\n"
            return css, 200, {**cache, "Content-Type": "text/css; charset=utf-8"}
        abort(404)

    @bp.get("/favicon.ico")
    def favicon():
        """No GOV.UK crown icon: a brand's page names its logo as icon; browsers that ask here
        anyway get nothing (not a rendered "page not found")."""
        return "", 204, {"Cache-Control": "public, max-age=86400"}

    app.register_blueprint(bp)

    if book.remembered_council_cookie:
        cookie = book.remembered_council_cookie

        @app.after_request
        def remember_council(response):
            """Only the council's id (no identity data). SameSite=None over HTTPS, so that the
            hub's cross-site POST back still brings it to the "expired" page."""
            council_id = g.get("brand_council")
            jar = cookies()
            if council_id and jar.get(cookie) != council_id:
                jar.set(response, cookie, council_id, max_age=REMEMBERED_COUNCIL_MAX_AGE,
                        samesite="None" if jar.secure else "Lax")
            return response
