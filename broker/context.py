"""The running broker, as a request handler reaches it: one typed accessor for every blueprint."""

from __future__ import annotations

from typing import TYPE_CHECKING

from flask import current_app

if TYPE_CHECKING:
    from broker.app import Broker


def current_broker() -> Broker:
    return current_app.extensions["broker"]
