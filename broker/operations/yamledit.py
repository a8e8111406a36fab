"""Editing the operator's YAML in place without losing their comments, quoting or ${NAME} values.

ruamel.yaml's round-trip mode keeps comments and key order. Every edit is written to a temporary
file beside the original, loaded with broker.config.load_config (so a change that would stop the
broker is refused before it lands), and only then moved over the original, keeping its mode.
"""

from __future__ import annotations

import io
import os
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from broker.config import ConfigError, load_config


def _yaml() -> YAML:
    yaml = YAML()  # round-trip
    yaml.preserve_quotes = True
    yaml.width = 4096  # never re-wrap an operator's long lines
    yaml.indent(mapping=2, sequence=4, offset=2)
    return yaml


def load_document(path: Path) -> Any:
    with open(path, encoding="utf-8") as handle:
        return _yaml().load(handle)


def edit_document(path: Path, change: Callable[[Any], None],
                  environ: dict[str, str] | None = None) -> None:
    """Applies `change` to the document, checks the result loads, then replaces the file.

    Raises ConfigError (naming the original file) when the changed configuration would not load;
    the original is then left untouched.
    """
    document = load_document(path)
    change(document)
    buffer = io.StringIO()
    _yaml().dump(document, buffer)
    handle, temp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(handle, "w", encoding="utf-8") as out:
            out.write(buffer.getvalue())
        try:
            load_config(temp, dict(os.environ) if environ is None else environ)
        except ConfigError as exc:
            raise ConfigError(str(path), exc.key, f"the change was not made: {exc.problem}") from None
        os.chmod(temp, path.stat().st_mode & 0o7777)
        os.replace(temp, path)
    finally:
        temp.unlink(missing_ok=True)
