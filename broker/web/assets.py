"""GOV.UK Frontend's compiled assets, served by each app itself (no CDN).

The files come from the `govuk-frontend` npm package (`npm ci` in `make`); the stylesheet asks
for fonts and images under `/assets/`, so that is where they are served. BROKER_GOVUK_FRONTEND
may name another copy of `node_modules/govuk-frontend/dist/govuk` (for example in a container
image that built them in a separate stage).

`councils.min.css` is GOV.UK Frontend compiled for pages that are not on GOV.UK (system fonts;
see broker/web/styles/councils.scss), made by `make assets` into broker/web/static/ and shipped
as package data. The stock `govuk-frontend.min.css` (GDS Transport) is for the stub hub only.
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, abort, send_from_directory

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIST = REPO_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"
TOP_LEVEL_FILES = {"govuk-frontend.min.css", "govuk-frontend.min.js"}
STATIC = Path(__file__).resolve().parent / "static"
COUNCILS_CSS = "councils.min.css"
ONE_YEAR = 365 * 24 * 3600


class AssetsMissing(RuntimeError):
    pass


def frontend_dist() -> Path:
    dist = Path(os.environ.get("BROKER_GOVUK_FRONTEND", DEFAULT_DIST))
    if not (dist / "govuk-frontend.min.css").is_file():
        raise AssetsMissing(f"GOV.UK Frontend is not installed at {dist}: run `make` (npm ci)")
    return dist


def councils_stylesheet() -> Path:
    path = STATIC / COUNCILS_CSS
    if not path.is_file():
        raise AssetsMissing(f"the councils' stylesheet is not compiled at {path}: run `make assets`")
    return path


def assets_blueprint() -> Blueprint:
    dist = frontend_dist()
    councils_stylesheet()
    bp = Blueprint("govuk_assets", __name__)

    @bp.get("/assets/<path:filename>")
    def asset(filename: str):
        if filename == COUNCILS_CSS:
            return send_from_directory(STATIC, filename, max_age=3600)
        if filename in TOP_LEVEL_FILES:
            return send_from_directory(dist, filename, max_age=3600)
        if filename.startswith(("fonts/", "images/")) or filename == "manifest.json":
            return send_from_directory(dist / "assets", filename, max_age=ONE_YEAR)
        abort(404)

    return bp
