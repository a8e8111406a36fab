"""What the broker publishes for One Login: the public keys of its `private_key_jwt`.

The sign-in itself (the hand-off from /authorize, the redirect URI, back-channel logout) is part
of the one journey, `broker.journey`, which is where flows, sessions and council apps meet.
"""

from __future__ import annotations

from flask import Blueprint, jsonify

from broker.context import current_broker
from broker.one_login.client_auth import public_jwks
from broker.web.pages import render_page

bp = Blueprint("onelogin", __name__)


@bp.get("/onelogin/jwks.json")
def jwks():
    """The public keys of the broker's private_key_jwt, for One Login's registration."""
    config = current_broker().config.one_login
    if config is None:
        return render_page("not-found")
    response = jsonify(public_jwks(config))
    response.headers["Cache-Control"] = "public, max-age=3600"
    return response
