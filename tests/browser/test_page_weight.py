"""The first broker page in Chromium (issue 26 item 7): what it loads, what that costs on the
wire, and that the trimmed stylesheet still gives it GOV.UK Frontend's look.

benchmarks/page_weight.py prints the same figures without a browser; this checks that Chromium
loads exactly the files it counts.
"""

from __future__ import annotations

from urllib.parse import urlparse

import lxml.html

from benchmarks.page_weight import SUBRESOURCES, TARGET
from broker.web.assets import COUNCILS_CSS, built_assets
from tests.browser.conftest import SCREENSHOTS, start_sign_in

ASSETS = built_assets()
IMMUTABLE = "public, max-age=31536000, immutable"


def open_first_page(resident, stack):
    """The hand-off page, kept on screen: the hub answers its form with 204 No Content."""
    finished = []
    resident.page.on("requestfinished", lambda request: finished.append(request))
    resident.page.context.route(f"{stack.hub_url}/**", lambda route: route.fulfill(status=204))
    resident.page.goto(f"{stack.council_url}/")
    resident.page.get_by_role("button", name="Sign in").click()
    resident.page.wait_for_function(
        "() => location.pathname === '/authorize' && document.readyState === 'complete'")
    resident.page.wait_for_timeout(300)  # the hub's 204 to the submitted form settles
    return [request for request in finished
            if urlparse(request.url).netloc == urlparse(stack.broker_url).netloc]


def test_the_first_broker_page_loads_only_what_the_benchmark_counts_within_40_kb(resident, stack):
    window = resident()
    requests_made = open_first_page(window, stack)
    html = window.page.content()
    assert window.page.url.startswith(f"{stack.broker_url}/authorize")
    linked = {urlparse(url).path for url in lxml.html.fromstring(html).xpath(SUBRESOURCES)}
    loaded = {urlparse(request.url).path for request in requests_made} - {"/authorize"}
    assert loaded == linked
    assert f"/assets/{ASSETS.files[COUNCILS_CSS]}" in loaded and not any(
        "govuk-components" in path or "govuk-frontend" in path for path in loaded)
    on_the_wire = 0
    for request in requests_made:
        headers = request.response().all_headers()
        if request.url.startswith(f"{stack.broker_url}/assets/"):
            assert headers["content-encoding"] in ("br", "gzip"), request.url
            assert headers["cache-control"] == IMMUTABLE
            assert headers["vary"] == "Accept-Encoding"
        on_the_wire += request.sizes()["responseBodySize"]
    assert on_the_wire <= TARGET, f"{on_the_wire} bytes"


def test_the_first_broker_page_is_styled_by_the_trimmed_stylesheet(resident, stack):
    window = resident(javascript=False)  # the page then stays: it submits itself with JavaScript
    start_sign_in(window, stack)
    window.page.screenshot(path=str(SCREENSHOTS / "en-first-broker-page.png"), full_page=True)
    style = window.page.evaluate("""(() => {
      const css = (selector, property) =>
        getComputedStyle(document.querySelector(selector)).getPropertyValue(property);
      return {
        header: css(".govuk-generic-header", "background-color"),
        headerText: css(".govuk-generic-header__homepage-link", "color"),
        width: css(".govuk-width-container", "max-width"),
        heading: css("h1", "font-weight") + " " + css("h1", "font-size"),
        font: css("h1", "font-family"),
        button: css(".govuk-button", "background-color"),
        buttonShadow: css(".govuk-button", "box-shadow"),
        navigation: css(".govuk-service-navigation", "border-bottom-style"),
        footer: css(".govuk-footer", "border-top-style"),
      };
    })()""")
    assert style["header"] == "rgb(90, 45, 130)"        # the council's colour, #5a2d82 (tests/conftest.py)
    assert style["headerText"] == "rgb(255, 255, 255)"
    assert style["width"] == "960px"
    assert style["heading"] in ("700 32px", "700 36px", "700 48px")   # govuk-heading-l
    assert style["font"].startswith("-apple-system")
    assert style["button"] == "rgb(15, 122, 82)"                     # GOV.UK Frontend 6 green button
    assert "rgb(" in style["buttonShadow"] and style["buttonShadow"] != "none"
    assert style["navigation"] == "solid" and style["footer"] == "solid"


def test_the_benchmark_reaches_the_first_broker_page_as_a_resident_does(stack):
    """`make bench` weighs the page a resident reaches from the council's Sign in (a link since
    issue 26: the benchmark's POST stopped at a 405)."""
    from benchmarks.page_weight import weigh

    transfers = weigh(stack.council_url)
    assert urlparse(transfers[0].url).path == "/authorize"
    assert sum(t.body_bytes for t in transfers) <= TARGET
