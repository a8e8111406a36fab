"""What the environment adds to the YAML file: ${NAME} references and the BROKER_* overrides.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from broker.errors import ConfigError

ENV_OVERRIDES = {
    "BROKER_ISSUER": "issuer",
    "BROKER_REDIS_URL": "redis.url",
    "BROKER_SECRET_KEY": "secret_key",
    "BROKER_MODE": "mode",
    "BROKER_HUB_METADATA_URL": "hub.metadata_url",
    "BROKER_DATABASE_URL": "database.url",
}


def refuse_unset_variables(source: str, node: Any, environ: Mapping[str, str],
                            overridden: set[str], key: str = "") -> None:
    """A ${NAME} with no default whose variable is unset names the variable, instead of letting
    an empty string fail a later, less telling check."""
    if isinstance(node, dict):
        for name, value in node.items():
            refuse_unset_variables(source, value, environ, overridden,
                                    f"{key}.{name}" if key else str(name))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            refuse_unset_variables(source, value, environ, overridden, f"{key}[{index}]")
    elif isinstance(node, str) and key not in overridden:
        for match in _ENV_REFERENCE.finditer(node):
            if match.group(2) is None and not environ.get(match.group(1)):
                raise ConfigError(source, key, f"environment variable {match.group(1)} is not set "
                                               f"(write ${{{match.group(1)}:-}} if it may be empty)")


_ENV_REFERENCE = re.compile(r"\$\{([A-Z0-9_]+)(?::-([^}]*))?\}")


def interpolate(node: Any, environ: Mapping[str, str]) -> Any:
    """Expands ${NAME} and ${NAME:-default} in string values from the environment."""
    if isinstance(node, dict):
        return {key: interpolate(value, environ) for key, value in node.items()}
    if isinstance(node, list):
        return [interpolate(value, environ) for value in node]
    if isinstance(node, str):
        return _ENV_REFERENCE.sub(lambda m: environ.get(m.group(1)) or (m.group(2) or ""), node)
    return node


def set_dotted(raw: dict[str, Any], dotted: str, value: str) -> None:
    *parents, last = dotted.split(".")
    node = raw
    for part in parents:
        node = node.setdefault(part, {})
    node[last] = value
