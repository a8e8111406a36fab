"""The error every configuration problem raises. Its own module so that the unknown-key check
(broker/config_keys.py) need not import the loader that imports it (no import cycle)."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem, rendered as `file: key: problem`."""

    def __init__(self, source: str, key: str, problem: str):
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem
