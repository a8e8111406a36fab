"""The pages' stylesheets and script: only what the pages use, fingerprinted, precompressed at
build time and cached for a year (issue 26 item 7: the first broker page cost 190 KB)."""

from __future__ import annotations

import gzip
import hashlib
import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import brotli
import pytest
import requests

from broker.app import create_app
from broker.config import load_config
from broker.web.assets import COMPONENTS_JS, COUNCILS_CSS, GOVUK_CSS, AssetsMissing, built_assets
from tests.conftest import Ports, free_port, write_config
from tests.oidc_client import authorize

ROOT = Path(__file__).resolve().parents[2]
ASSETS = built_assets()
IMMUTABLE = "public, max-age=31536000, immutable"
FRONTEND = ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"
# The templates rendered with the councils' stylesheet (the stub hub and stub One Login keep
# GOV.UK's whole stylesheet).
COUNCIL_TEMPLATES = [ROOT / "broker" / "web" / "templates", ROOT / "broker" / "matching" / "templates",
                     ROOT / "broker" / "devtools" / "council_app" / "templates"]


@pytest.fixture
def client(tmp_path, keys_dir, redis_url):
    ports = Ports(free_port(), free_port(), free_port())
    app = create_app(load_config(write_config(tmp_path, keys_dir, ports, redis_url, "assets:"),
                                 environ={}))
    return app.test_client()


def built(name: str, suffix: str = "") -> bytes:
    return (ASSETS.directory / f"{ASSETS.files[name]}{suffix}").read_bytes()


# --- fingerprints ------------------------------------------------------------------------------

@pytest.mark.parametrize("name", [COUNCILS_CSS, GOVUK_CSS, COMPONENTS_JS])
def test_each_asset_is_named_after_the_hash_of_its_bytes(name):
    stem, extension = name.rsplit(".", 1)
    fingerprint = hashlib.sha256(built(name)).hexdigest()[:16]
    assert ASSETS.files[name] == f"{stem}-{fingerprint}.{extension}"


def test_the_first_page_links_the_fingerprinted_stylesheet_and_no_script(stack):
    handoff = authorize(stack).response.text
    assert f'<link rel="stylesheet" href="/assets/{ASSETS.files[COUNCILS_CSS]}">' in handoff
    assert "govuk-components" not in handoff and "govuk-frontend.min" not in handoff


def test_other_pages_start_the_components_from_the_fingerprinted_script(client):
    page = client.get("/no-such-page").text
    assert f'src="/assets/{ASSETS.files[COMPONENTS_JS]}"' in page


@pytest.mark.parametrize("path", ["/assets/councils-0123456789abcdef.css",
                                  "/assets/govuk-components-0123456789abcdef.js",
                                  "/assets/councils.min.css", "/assets/govuk-frontend.min.js",
                                  "/assets/govuk-frontend.min.css", "/assets/manifest.json.br",
                                  f"/assets/{ASSETS.files[COUNCILS_CSS]}.br", "/assets/../assets.py"])
def test_a_fingerprint_the_build_did_not_make_is_not_found(client, path):
    response = client.get(path, headers={"Accept-Encoding": "gzip, br"})
    assert response.status_code == 404
    assert "immutable" not in response.headers.get("Cache-Control", "")


# --- compression and caching -------------------------------------------------------------------

@pytest.mark.parametrize("name", [COUNCILS_CSS, GOVUK_CSS, COMPONENTS_JS])
def test_a_browser_accepting_brotli_gets_the_brotli_file(client, name):
    response = client.get(ASSETS.url(name), headers={"Accept-Encoding": "gzip, deflate, br"})
    assert response.status_code == 200
    assert response.headers["Content-Encoding"] == "br"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert int(response.headers["Content-Length"]) == len(response.data) < len(built(name)) / 3
    assert brotli.decompress(response.data) == built(name)


def test_a_browser_accepting_only_gzip_gets_the_gzip_file(client):
    response = client.get(ASSETS.url(COUNCILS_CSS), headers={"Accept-Encoding": "gzip, deflate"})
    assert response.headers["Content-Encoding"] == "gzip"
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Content-Type"] == "text/css; charset=utf-8"
    assert gzip.decompress(response.data) == built(COUNCILS_CSS)


def test_q_values_are_honoured(client):
    refused = client.get(ASSETS.url(COUNCILS_CSS), headers={"Accept-Encoding": "br;q=0, gzip"})
    assert refused.headers["Content-Encoding"] == "gzip"
    preferred = client.get(ASSETS.url(COUNCILS_CSS),
                           headers={"Accept-Encoding": "br;q=0.5, gzip;q=1"})
    assert preferred.headers["Content-Encoding"] == "gzip"


def test_a_client_without_accept_encoding_gets_the_plain_file(client):
    response = client.get(ASSETS.url(COMPONENTS_JS))
    assert "Content-Encoding" not in response.headers
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.headers["Content-Type"] == "text/javascript; charset=utf-8"
    assert "Content-Disposition" not in response.headers
    assert response.data == built(COMPONENTS_JS)


def test_a_revalidation_of_the_same_variant_is_not_modified(client):
    headers = {"Accept-Encoding": "br"}
    first = client.get(ASSETS.url(COUNCILS_CSS), headers=headers)
    again = client.get(ASSETS.url(COUNCILS_CSS),
                       headers={**headers, "If-None-Match": first.headers["ETag"]})
    assert again.status_code == 304
    gzipped = client.get(ASSETS.url(COUNCILS_CSS), headers={"Accept-Encoding": "gzip"})
    assert gzipped.headers["ETag"] != first.headers["ETag"]  # one ETag per representation


@pytest.fixture(scope="module")
def served_broker(tmp_path_factory, keys_dir, redis_url) -> Iterator[str]:
    """`broker serve` (gunicorn), as in production."""
    directory = tmp_path_factory.mktemp("served-assets")
    port = free_port()
    path = write_config(directory, keys_dir, Ports(port, free_port(), free_port()), redis_url,
                        f"served-assets-{port}:")
    process = subprocess.Popen(
        [sys.executable, "-m", "broker.cli", "serve", "--port", str(port), "--workers", "1"],
        env={**os.environ, "BROKER_CONFIG": str(path)}, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 30
        while True:
            assert process.poll() is None, process.stdout.read()
            assert time.time() < deadline, "broker serve did not start"
            try:
                if requests.get(f"{url}/healthz", timeout=5).status_code == 200:
                    break
            except requests.RequestException:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


@pytest.mark.parametrize(("accepted", "encoding", "suffix"),
                         [("gzip, br", "br", ".br"), ("gzip", "gzip", ".gz")])
def test_broker_serve_sends_the_precompressed_files(served_broker, accepted, encoding, suffix):
    response = requests.get(f"{served_broker}{ASSETS.url(COUNCILS_CSS)}", stream=True, timeout=10,
                            headers={"Accept-Encoding": accepted})
    assert response.headers["Content-Encoding"] == encoding
    assert response.headers["Vary"] == "Accept-Encoding"
    assert response.headers["Cache-Control"] == IMMUTABLE
    assert response.raw.read(decode_content=False) == built(COUNCILS_CSS, suffix)


# --- only what the pages use, and everything they use ------------------------------------------

def template_sources(folders) -> dict[Path, str]:
    return {path: path.read_text(encoding="utf-8") for folder in folders
            for path in folder.rglob("*.html")}


def test_every_class_a_council_page_uses_is_in_the_councils_stylesheet():
    """councils.scss imports only some components: a template that uses another must add it.
    A class GOV.UK Frontend itself does not style (govuk-table__row, govuk-js-…) needs nothing."""
    css, whole = built(COUNCILS_CSS).decode(), built(GOVUK_CSS).decode()
    missing = set()
    for path, source in template_sources(COUNCIL_TEMPLATES).items():
        for attribute in re.findall(r'class="([^"]*)"', source):
            for name in re.findall(r"(?<![\w-])(govuk-[\w!-]+)", attribute):
                selector = re.compile(r"\." + re.escape(name.replace("!", "\\!")) + r"(?![\w-])")
                if selector.search(whole) and not selector.search(css):
                    missing.add(f"{path.relative_to(ROOT)}: {name}")
    assert not missing, ("add its component (govuk-!-… classes: overrides) to "
                         "broker/web/styles/councils.scss:\n" + "\n".join(sorted(missing)))


def test_every_component_macro_a_council_page_imports_is_in_the_councils_stylesheet():
    scss = (ROOT / "broker" / "web" / "styles" / "councils.scss").read_text()
    imported = {name for source in template_sources(COUNCIL_TEMPLATES + [
        ROOT / "broker" / "web" / "templates" / "design"]).values()
        for name in re.findall(r"components/([\w-]+)/macro\.html", source)}
    assert imported, "no macro found: the search is wrong"
    missing = {name for name in imported
               if f'@use "govuk-frontend/dist/govuk/components/{name}";' not in scss}
    assert not missing, f"add to broker/web/styles/councils.scss: {sorted(missing)}"


def test_every_component_with_javascript_that_a_page_uses_is_started_by_the_script():
    """The bundle starts only some components: a template that uses another must add it."""
    entry = (ROOT / "broker" / "web" / "scripts" / "govuk-components.mjs").read_text()
    with_javascript = {path.parent.name for path in FRONTEND.glob("components/*/*.mjs")
                       if path.stem == path.parent.name}
    used = set()
    for source in template_sources([ROOT / "broker"]).values():
        used |= set(re.findall(r'data-module="govuk-([\w-]+)"', source))
        used |= set(re.findall(r"components/([\w-]+)/macro\.html", source))
    needed = used & with_javascript
    assert {"button", "radios", "error-summary"} <= needed, "the search is wrong"
    missing = {name for name in needed
               if "".join(part.title() for part in name.split("-")) not in entry}
    assert not missing, f"add to broker/web/scripts/govuk-components.mjs: {sorted(missing)}"


def test_the_councils_stylesheet_declares_no_font_and_is_a_fraction_of_govuk_frontend():
    css = built(COUNCILS_CSS).decode()
    assert "@font-face" not in css and "GDS Transport" not in css
    assert "--govuk-frontend-version" in css
    assert len(built(COUNCILS_CSS)) < len(built(GOVUK_CSS)) / 1.8
    assert len(built(COMPONENTS_JS)) < (FRONTEND / "govuk-frontend.min.js").stat().st_size / 4


def test_an_installation_without_its_built_assets_is_one_line_naming_the_file(tmp_path):
    with pytest.raises(AssetsMissing) as missing:
        built_assets(tmp_path)
    assert str(missing.value) == (f"{tmp_path / 'manifest.json'}: (assets): the pages' assets are"
                                  " not built: run `make assets`")
    for file in ASSETS.directory.iterdir():
        if not file.name.endswith(".br"):
            (tmp_path / file.name).write_bytes(file.read_bytes())
    with pytest.raises(AssetsMissing, match=r"councils\.css: not built \(councils-[0-9a-f]{16}"
                                            r"\.css\.br\): run `make assets`"):
        built_assets(tmp_path)


@pytest.mark.parametrize("accepted", ["br;q=abc", ",,,;;;", "*;q=0", "*", "gzip;q=2, br;q=-1",
                                      "x" * 8000, "br;q=0.0001", "identity;q=0"])
def test_a_malformed_accept_encoding_gets_a_file_not_an_error(client, accepted):
    response = client.get(ASSETS.url(COUNCILS_CSS), headers={"Accept-Encoding": accepted})
    assert response.status_code == 200
    variant = {"br": ".br", "gzip": ".gz"}.get(response.headers.get("Content-Encoding"), "")
    assert response.data == built(COUNCILS_CSS, variant)
