"""Failures any layer may raise or turn into a page, kept apart so that no layer imports
another only to name them."""

from __future__ import annotations


class StateUnavailable(Exception):
    """Redis could not be reached; the sign-in cannot continue but nothing is corrupted."""


class ConfigError(Exception):
    """A configuration problem, rendered as `file: key: problem`."""

    def __init__(self, source: str, key: str, problem: str):
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem
