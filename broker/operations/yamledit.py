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
from ruamel.yaml.comments import CommentedMap, CommentedSeq

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
                  environ: dict[str, str] | None = None,
                  keep_comments_in: tuple[str, ...] = ("saml", "oidc", "one_login")) -> None:
    """Applies `change` to the document, checks the result loads, then replaces the file.

    Raises ConfigError (naming the original file) when the changed configuration would not load;
    the original is then left untouched.
    """
    document = load_document(path)
    sections = [document[name] for name in keep_comments_in
                if isinstance(document.get(name), CommentedMap)]
    held = [_detach_trailing_comments(section) for section in sections]
    change(document)
    for section, comments in zip(sections, held, strict=True):
        _reattach_trailing_comments(section, comments)
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


# ruamel.yaml stores a comment that sits between two keys as trailing the innermost last value of
# the first key. An operator wrote it about the *next* key, so when an edit appends to, swaps or
# removes the first key's items, the comment is lifted beforehand and put back after whatever
# value now precedes that next key.

def _innermost_last(node: Any) -> tuple[Any, Any] | None:
    """(container, key or index) of the last block-style value under `node`."""
    while isinstance(node, (CommentedMap, CommentedSeq)) and len(node) and not node.fa.flow_style():
        last = list(node)[-1] if isinstance(node, CommentedMap) else len(node) - 1
        value = node[last]
        if isinstance(value, (CommentedMap, CommentedSeq)) and len(value) and not value.fa.flow_style():
            node = value
            continue
        return node, last
    return None


def _slot(container: Any) -> int:
    return 2 if isinstance(container, CommentedMap) else 0


def _take_comment(section: CommentedMap, key: Any) -> Any:
    if isinstance(section[key], (CommentedMap, CommentedSeq)):
        found = _innermost_last(section[key])
    else:
        found = (section, key)
    if found is None:
        return None
    container, last = found
    items = container.ca.items.get(last)
    if not items or len(items) <= _slot(container) or items[_slot(container)] is None:
        return None
    token, items[_slot(container)] = items[_slot(container)], None
    return token


def _detach_trailing_comments(section: CommentedMap) -> dict[Any, Any]:
    """{key that follows the comment (None at the end): comment token}, removed from the tree."""
    keys = list(section)
    held = {}
    for position, key in enumerate(keys):
        token = _take_comment(section, key)
        if token is not None:
            held[keys[position + 1] if position + 1 < len(keys) else None] = token
    return held


def _reattach_trailing_comments(section: CommentedMap, held: dict[Any, Any]) -> None:
    keys = list(section)
    for following, token in held.items():
        position = keys.index(following) if following in keys else len(keys)
        if position == 0:
            continue
        key = keys[position - 1]
        found = (_innermost_last(section[key]) if isinstance(section[key], (CommentedMap, CommentedSeq))
                 else (section, key))
        if found is None:
            continue
        container, last = found
        size = 4 if isinstance(container, CommentedMap) else 2
        items = container.ca.items.setdefault(last, [None] * size)
        items[_slot(container)] = token
