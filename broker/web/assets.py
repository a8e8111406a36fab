"""GOV.UK Frontend's compiled assets, served by each app itself (no CDN).

The files come from the `govuk-frontend` npm package (`npm ci` in `make`); the stylesheet asks
for fonts and images under `/assets/`, so that is where they are served. BROKER_GOVUK_FRONTEND
may name another copy of `node_modules/govuk-frontend/dist/govuk` (for example in a container
image that built them in a separate stage).
"""

from __future__ import annotations

import os
from pathlib import Path

from flask import Blueprint, abort, send_from_directory

REPO_ROOT = Path(__file__).resolve().parents[2]
DEFAULT_DIST = REPO_ROOT / "node_modules" / "govuk-frontend" / "dist" / "govuk"
TOP_LEVEL_FILES = {"govuk-frontend.min.css", "govuk-frontend.min.js"}
ONE_YEAR = 365 * 24 * 3600


class AssetsMissing(RuntimeError):
    pass


def frontend_dist() -> Path:
    dist = Path(os.environ.get("BROKER_GOVUK_FRONTEND", DEFAULT_DIST))
    if not (dist / "govuk-frontend.min.css").is_file():
        raise AssetsMissing(f"GOV.UK Frontend is not installed at {dist}: run `make` (npm ci)")
    return dist


def assets_blueprint() -> Blueprint:
    dist = frontend_dist()
    bp = Blueprint("govuk_assets", __name__)

    @bp.get("/assets/<path:filename>")
    def asset(filename: str):
        if filename in TOP_LEVEL_FILES:
            return send_from_directory(dist, filename, max_age=3600)
        if filename.startswith(("fonts/", "images/")) or filename == "manifest.json":
            return send_from_directory(dist / "assets", filename, max_age=ONE_YEAR)
        abort(404)

    return bp
