"""Each council's brand on its residents' pages, a neutral brand elsewhere, and nothing of
GOV.UK's identity (crown, Royal Arms, GDS Transport) on any broker page."""

from __future__ import annotations

import re

import lxml.html
import pytest
import requests

from broker.config import ConfigError, load_config
from broker.config.branding import contrast_ratio, logo_media_type
from broker.web.assets import built_assets
from tests.conftest import COUNCIL_CLIENT_ID, COUNCIL_CLIENT_SECRET, Ports, write_config
from tests.forms import link, submit
from tests.oidc_client import authorize

PORTS = Ports(18200, 18201, 18202)
ASSETS = built_assets()
PNG = (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
       b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xff\xff?\x00\x05\xfe\x02\xfe\xa7\x35\x81"
       b"\x84\x00\x00\x00\x00IEND\xaeB`\x82")
GOVUK_IDENTITY = ("govuk-logo", "govuk-header__", "govuk-footer__crown", "govuk-footer__copyright-logo",
                  "govuk-crest", "/assets/images/", "/assets/govuk-frontend-", "Crown copyright")


def config_with(tmp_path, keys_dir, **branding):
    return write_config(tmp_path, keys_dir, PORTS, "redis://127.0.0.1:6379/0", "t:",
                        **{"councils.test-borough.branding": branding})


def refusal(tmp_path, keys_dir, **branding) -> ConfigError:
    with pytest.raises(ConfigError) as caught:
        load_config(config_with(tmp_path, keys_dir, **branding), environ={})
    return caught.value


def brand_of(html: str) -> dict[str, str | None]:
    document = lxml.html.fromstring(html)
    header = document.get_element_by_id("brand")
    logo = document.xpath('//*[@id="brand-logo"]')
    name = document.xpath('//*[@id="brand-name"]')
    return {"key": header.get("data-brand"), "name": name[0].text_content().strip() if name else None,
            "logo": logo[0].get("src") if logo else None, "alt": logo[0].get("alt") if logo else None,
            "css": next(iter(document.xpath(
                '//link[@rel="stylesheet"][contains(@href, "/brand/")]/@href')), None)}


def assert_no_govuk_identity(html: str) -> None:
    found = [mark for mark in GOVUK_IDENTITY if mark in html]
    assert found == [], f"GOV.UK's identity on a broker page: {found}"


# --- contrast and the configuration ------------------------------------------------------------

def test_contrast_ratios_are_wcags():
    assert contrast_ratio("#000000", "#ffffff") == pytest.approx(21)
    assert contrast_ratio("#767676", "#ffffff") == pytest.approx(4.54, abs=0.01)
    assert contrast_ratio("#ffffff", "#ffffff") == pytest.approx(1)


def test_a_colour_that_fails_aa_contrast_with_the_header_text_is_refused(tmp_path, keys_dir):
    error = refusal(tmp_path, keys_dir, colour="#ffdd00")
    assert error.key == "councils.test-borough.branding.colour"
    assert "1.35:1" in error.problem and "WCAG 2.2 AA needs at least 4.5:1" in error.problem


def test_a_colour_just_below_aa_is_refused_and_one_just_above_is_accepted(tmp_path, keys_dir):
    assert refusal(tmp_path, keys_dir, colour="#777777").key.endswith("branding.colour")  # 4.48
    config = load_config(config_with(tmp_path, keys_dir, colour="#767676"), environ={})  # 4.54
    assert config.councils["test-borough"].brand.colour == "#767676"


def test_a_colour_not_written_as_rrggbb_is_refused(tmp_path, keys_dir):
    assert "must be a colour written #rrggbb" in refusal(tmp_path, keys_dir, colour="purple").problem


def test_a_logo_that_is_not_an_image_is_refused_whatever_its_name(tmp_path, keys_dir):
    fake = tmp_path / "logo.png"
    fake.write_text("<html><script>alert(1)</script></html>")
    error = refusal(tmp_path, keys_dir, logo=str(fake))
    assert error.key == "councils.test-borough.branding.logo"
    assert "is not a PNG, JPEG, WebP or SVG image" in error.problem


def test_an_svg_with_a_doctype_is_refused():
    assert logo_media_type(b'<?xml version="1.0"?><!DOCTYPE svg [<!ENTITY a "b">]><svg/>') is None
    assert logo_media_type(b'<svg xmlns="http://www.w3.org/2000/svg"/>') == "image/svg+xml"


def test_a_missing_logo_file_is_named(tmp_path, keys_dir):
    error = refusal(tmp_path, keys_dir, logo="no-such-logo.svg")
    assert error.problem.startswith("file not found: ")


def test_an_oversized_logo_is_refused(tmp_path, keys_dir):
    big = tmp_path / "big.png"
    big.write_bytes(PNG + b"\0" * 300_000)
    assert "a logo may be at most" in refusal(tmp_path, keys_dir, logo=str(big)).problem


def test_a_logo_without_the_name_needs_its_alternative_text(tmp_path, keys_dir):
    logo = tmp_path / "logo.png"
    logo.write_bytes(PNG)
    error = refusal(tmp_path, keys_dir, logo=str(logo), show_name=False)
    assert error.key == "councils.test-borough.branding.show_name"


def test_an_unknown_branding_key_is_refused(tmp_path, keys_dir):
    assert refusal(tmp_path, keys_dir, color="#1d4f91").key == "councils.test-borough.branding.color"


def test_check_config_refuses_a_low_contrast_colour_in_one_line(tmp_path, keys_dir):
    from broker.operations.checks import run_checks

    path = config_with(tmp_path, keys_dir, colour="#9fc5e8")
    source, problems = run_checks(str(path), environ={}, offline=True)
    assert [p.line(source) for p in problems] == [
        f"{path}: councils.test-borough.branding.colour: #9fc5e8 has a contrast ratio of 1.81:1 "
        "with the white text it carries in the header; WCAG 2.2 AA needs at least 4.5:1 "
        "(choose a darker colour)"]


# --- pages --------------------------------------------------------------------------------------

@pytest.fixture
def two_councils(stack_factory, tmp_path):
    """Test Borough (the conftest's logo and colour) and Other Shire (its own PNG, no colour)."""
    logo = tmp_path / "other-shire.png"
    logo.write_bytes(PNG)

    def changes(ports):
        return {
            "councils.other-shire": {"name": "Other Shire Council",
                                     "entity_id": "https://other-shire.example.gov.uk",
                                     "service_url": "https://other-shire.example.gov.uk/",
                                     "branding": {"logo": str(logo)}},
            "clients": [
                {"client_id": COUNCIL_CLIENT_ID, "council": "test-borough", "name": "Test Borough",
                 "client_secret": COUNCIL_CLIENT_SECRET,
                 "redirect_uris": [f"{ports.url('council')}/callback"],
                 "scopes": ["openid", "profile", "address"]},
                {"client_id": "other-shire-app", "council": "other-shire", "name": "Other Shire",
                 "client_secret": "other-secret", "redirect_uris": [f"{ports.url('council')}/callback"],
                 "scopes": ["openid", "profile"]}],
        }

    return stack_factory(changes)


def test_each_councils_hand_off_page_shows_that_council_only(two_councils):
    """The hand-off page is cached per language: the brand is part of the cache key."""
    for _ in range(2):
        test_borough = brand_of(authorize(two_councils).response.text)
        other_shire = brand_of(authorize(two_councils, client_id="other-shire-app",
                                         scope="openid profile").response.text)
        assert (test_borough["key"], test_borough["name"]) == ("councils/test-borough",
                                                               "Test Borough Council")
        assert test_borough["alt"] == "Test Borough Council crest" and test_borough["css"]
        assert (other_shire["key"], other_shire["name"]) == ("councils/other-shire",
                                                             "Other Shire Council")
        assert other_shire["alt"] == "" and other_shire["css"] is None  # decorative; no colour


def test_the_welsh_hand_off_shows_the_councils_welsh_name(stack):
    brand = brand_of(authorize(stack, ui_locales="cy").response.text)
    assert brand["name"] == "Cyngor Bwrdeistref Prawf"
    assert brand["alt"] == "Arfbais Cyngor Bwrdeistref Prawf"


def test_the_logo_is_served_with_a_year_long_cache_as_what_it_is(two_councils):
    for client_id, media_type in ((COUNCIL_CLIENT_ID, "image/svg+xml"),
                                  ("other-shire-app", "image/png")):
        page = authorize(two_councils, client_id=client_id, scope="openid profile").response
        logo = requests.get(two_councils.broker_url + brand_of(page.text)["logo"], timeout=10)
        assert logo.status_code == 200
        assert logo.headers["Content-Type"] == media_type
        assert logo.headers["Cache-Control"] == "public, max-age=31536000, immutable"
        assert logo.headers["X-Content-Type-Options"] == "nosniff"
        assert "sandbox" in logo.headers["Content-Security-Policy"]  # an SVG never runs script


def test_the_brand_stylesheet_sets_govuk_frontends_brand_colour(stack):
    css_url = brand_of(authorize(stack).response.text)["css"]
    css = requests.get(stack.broker_url + css_url, timeout=10)
    assert css.headers["Content-Type"].startswith("text/css")
    assert css.text.strip() == ":root{--govuk-brand-colour:#5a2d82}"


def test_an_old_or_unknown_brand_url_is_not_found(stack):
    logo = brand_of(authorize(stack).response.text)["logo"]
    old = re.sub(r"/[0-9a-f]{16}/", "/0000000000000000/", logo)
    assert requests.get(stack.broker_url + old, timeout=10).status_code == 404
    unknown = logo.replace("test-borough", "no-such-council")
    assert requests.get(stack.broker_url + unknown, timeout=10).status_code == 404


def test_pages_before_a_council_is_known_show_the_neutral_brand(stack):
    for response in (requests.get(f"{stack.broker_url}/no-such-page", timeout=10),
                     authorize(stack, client_id="no-such-client").response):
        brand = brand_of(response.text)
        assert brand["key"] == "deployment" and brand["name"] == "Council sign-in"
        assert brand["logo"] is None and brand["css"] is None


def test_the_neutral_brand_is_the_deployments_own_when_configured(stack_factory, tmp_path):
    logo = tmp_path / "shared.png"
    logo.write_bytes(PNG)
    stack = stack_factory(lambda ports: {"branding": {
        "name": {"en": "Shire councils' sign-in", "cy": "Mewngofnodi cynghorau'r sir"},
        "logo": str(logo), "colour": "#00703c"}})
    welsh = brand_of(requests.get(f"{stack.broker_url}/no-such-page?lang=cy", timeout=10).text)
    assert welsh["key"] == "deployment" and welsh["name"] == "Mewngofnodi cynghorau'r sir"
    assert welsh["logo"] and welsh["css"]


def test_no_broker_page_carries_govuks_crown_arms_or_font(stack):
    attempt = authorize(stack)
    browser = requests.Session()
    failure = submit(browser, submit(browser, submit(browser, attempt.response, "hub-handoff"),
                                     choice="cancel"), "post-back")
    for page in (attempt.response, failure,
                 requests.get(f"{stack.broker_url}/no-such-page", timeout=10)):
        assert f'href="{ASSETS.url("councils.css")}"' in page.text
        assert_no_govuk_identity(page.text)
    css = requests.get(f"{stack.broker_url}{ASSETS.url('councils.css')}", timeout=10).text
    assert "GDS Transport" not in css and "@font-face" not in css


def test_the_stub_hub_keeps_govuks_look(stack):
    attempt = authorize(stack)
    chooser = submit(requests.Session(), attempt.response, "hub-handoff")
    assert f'href="{ASSETS.url("govuk-frontend.css")}"' in chooser.text


def test_the_expired_page_offers_the_way_back_to_the_council_the_resident_came_from(stack):
    browser = requests.Session()
    attempt = authorize(stack, session=browser)
    chooser = submit(browser, attempt.response, "hub-handoff")
    answer = submit(browser, chooser, choice="jane")
    submit(browser, answer, "post-back")                       # signed in: the flow is used
    again = submit(browser, answer, "post-back")               # the same answer posted twice
    assert 'data-page="session-expired"' in again.text
    assert link(again, "way-back") == stack.council_url
    assert "Return to Test Borough Council" in again.text
    assert brand_of(again.text)["key"] == "councils/test-borough"  # the council it started from


def test_the_expired_page_without_a_remembered_council_offers_no_way_back(stack):
    response = requests.post(f"{stack.broker_url}/saml/acs",
                             data={"SAMLResponse": "x", "RelayState": "unknown"}, timeout=10)
    assert 'data-page="session-expired"' in response.text
    assert 'id="way-back"' not in response.text and 'id="continue"' not in response.text


def test_the_icon_is_the_brands_logo_never_govuks_crown(stack):
    page = authorize(stack).response.text
    document = lxml.html.fromstring(page)
    assert document.xpath('//link[@rel="icon"]/@href') == [brand_of(page)["logo"]]
    favicon = requests.get(f"{stack.broker_url}/favicon.ico", timeout=10)
    assert favicon.status_code == 204 and favicon.content == b""
