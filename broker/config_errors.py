"""The one error every configuration problem becomes, apart from the loader so that the modules
the loader uses (broker.config_keys) can raise it without importing the loader."""

from __future__ import annotations


class ConfigError(Exception):
    """A configuration problem, rendered as `file: key: problem`."""

    def __init__(self, source: str, key: str, problem: str):
        super().__init__(f"{source}: {key}: {problem}")
        self.source, self.key, self.problem = source, key, problem
