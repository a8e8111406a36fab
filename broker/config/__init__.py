"""Configuration, becoming a package (issue 25 item 7): this step only moves the module."""

from broker.config.model import *  # noqa: F403
from broker.config.model import _interpolate, _Reader  # noqa: F401
