"""The pages' stylesheets and script, served by each app itself (no CDN), fingerprinted and
precompressed at build time.

`make assets` (scripts/build-assets.mjs) writes into broker/web/static/, shipped as package
data: `councils.css` (GOV.UK Frontend's Sass with only the components the pages use, system
fonts; broker/web/styles/councils.scss), `govuk-components.js` (only the components' scripts the
pages start; broker/web/scripts/) and `govuk-frontend.css` (GOV.UK's own stylesheet with GDS
Transport, for the stub hub only). Each is `<name>-<hash>.<ext>` with a `.gz` and a `.br` beside it
and `manifest.json` maps the logical names to those files. Its URL changes whenever its bytes
do, so it is cached for a year as immutable; a fingerprint the build did not make is a 404.

Fonts and images still come from the `govuk-frontend` npm package (`npm ci` in `make`): GOV.UK's
stylesheet asks for them under `/assets/`. BROKER_GOVUK_FRONTEND may name another copy of
`node_modules/govuk-frontend/dist/govuk` (for example in a container image).
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path

from flask import Blueprint, Response, abort, request, send_file, send_from_directory
from werkzeug.datastructures import Accept

from broker.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIST = REPO_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"
STATIC = Path(__file__).resolve().parent / "static"
MANIFEST = "manifest.json"
COUNCILS_CSS = "councils.css"
GOVUK_CSS = "govuk-frontend.css"
COMPONENTS_JS = "govuk-components.js"
ONE_YEAR = 365 * 24 * 3600
IMMUTABLE = f"public, max-age={ONE_YEAR}, immutable"
# What the build writes beside each file, in the order preferred when a browser accepts both
# equally (brotli is the smaller).
ENCODINGS = (("br", ".br"), ("gzip", ".gz"))
MEDIA_TYPES = {".css": "text/css", ".js": "text/javascript"}  # Flask adds the charset


class AssetsMissing(ConfigError):
    """An installation without its built assets: one line naming the file, like any setting."""


@dataclass(frozen=True)
class BuiltAssets:
    """What one `make assets` made: logical name -> fingerprinted file in `directory`."""

    directory: Path
    files: dict[str, str]

    def url(self, name: str) -> str:
        return f"/assets/{self.files[name]}"

    def serves(self, filename: str) -> bool:
        return filename in self.files.values()


def built_assets(directory: Path = STATIC) -> BuiltAssets:
    try:
        files = json.loads((directory / MANIFEST).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise AssetsMissing(str(directory / MANIFEST), "(assets)",
                            "the pages' assets are not built: run `make assets`") from None
    for name in (COUNCILS_CSS, GOVUK_CSS, COMPONENTS_JS):
        built = files.get(name)
        missing = [f"{built}{suffix}" for suffix in ("", ".gz", ".br")
                   if not built or not (directory / f"{built}{suffix}").is_file()]
        if missing:
            raise AssetsMissing(str(directory / MANIFEST), name,
                                f"not built ({', '.join(missing)}): run `make assets`")
    return BuiltAssets(directory, files)


def frontend_dist() -> Path:
    dist = Path(os.environ.get("BROKER_GOVUK_FRONTEND", DEFAULT_DIST))
    if not (dist / "assets" / "manifest.json").is_file():
        raise AssetsMissing(str(dist), "BROKER_GOVUK_FRONTEND",
                            "GOV.UK Frontend is not installed here: run `make` (npm ci)")
    return dist


def chosen_encoding(accepted: Accept) -> tuple[str, str] | None:
    """The precompressed variant to send, by the browser's Accept-Encoding (q-values honoured)."""
    best = max(ENCODINGS, key=lambda encoding: accepted.quality(encoding[0]))
    return best if accepted.quality(best[0]) > 0 else None


def send_built(assets: BuiltAssets, filename: str) -> Response:
    path = assets.directory / filename
    encoding = chosen_encoding(request.accept_encodings)
    if encoding:
        path = path.with_name(path.name + encoding[1])
    response = send_file(path, mimetype=MEDIA_TYPES[Path(filename).suffix], conditional=True,
                         etag=True, max_age=ONE_YEAR)
    del response.headers["Content-Disposition"]  # it would name the .br or .gz file
    if encoding:
        response.headers["Content-Encoding"] = encoding[0]
    response.vary.add("Accept-Encoding")
    response.headers["Cache-Control"] = IMMUTABLE
    return response


def assets_blueprint(assets: BuiltAssets) -> Blueprint:
    dist = frontend_dist()
    bp = Blueprint("govuk_assets", __name__)

    @bp.get("/assets/<path:filename>")
    def asset(filename: str):
        if assets.serves(filename):
            return send_built(assets, filename)
        if filename.startswith(("fonts/", "images/")) or filename == "manifest.json":
            return send_from_directory(dist / "assets", filename, max_age=ONE_YEAR)
        abort(404)

    return bp
