"""Our SAML service provider metadata, for the hub's operators."""

from __future__ import annotations

from flask import Blueprint, abort

from broker.context import current_broker
from broker.hub.sp_metadata import sp_metadata

bp = Blueprint("hub", __name__)


@bp.get("/saml/metadata")
def metadata():
    if current_broker().config.saml is None:  # One Login alone: the broker is no SAML SP
        abort(404)
    return sp_metadata(current_broker().config), 200, {
        "Content-Type": "application/samlmetadata+xml"}
