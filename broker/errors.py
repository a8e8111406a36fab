"""Failures any layer may raise or turn into a page, kept apart so that no layer imports
another only to name them."""

from __future__ import annotations


class StateUnavailable(Exception):
    """Redis could not be reached; the sign-in cannot continue but nothing is corrupted."""
