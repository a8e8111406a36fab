"""Unknown configuration keys, found by watching what the loader reads.

A misspelled optional key (`redis.key_prefx`) would otherwise fall back to its default without a
word. Rather than a list of known keys kept beside the loader (and forgotten when a key is
added), every mapping of the YAML is wrapped while broker.config reads it; each key the loader
asks for, present or not, is known. A mapping the loader reads keys from by name is a section of
the schema: anything left in it afterwards is unknown. A mapping only iterated (council ids,
contact details) or never opened (an inline JWKS handed on whole) is data, and is not judged.
"""

from __future__ import annotations

import dataclasses
import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from broker.errors import ConfigError


class ReadMapping(dict):
    """A dict that remembers which keys were asked for."""

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()
        self.schema = False
        self.iterated = False

    def mark_schema(self) -> None:
        self.schema = True

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)

    def pop(self, key, *default):
        self.asked.add(key)
        return super().pop(key, *default)

    def setdefault(self, key, default=None):
        self.asked.add(key)
        return super().setdefault(key, default)

    def copy(self):
        self._everything()
        return dict(super().items())

    def _everything(self):
        self.iterated = True
        self.asked.update(super().keys())

    def __iter__(self):
        self._everything()
        return super().__iter__()

    def keys(self):
        self._everything()
        return super().keys()

    def items(self):
        self._everything()
        return super().items()

    def values(self):
        self._everything()
        return super().values()


def plain(value: Any) -> Any:
    """The loaded configuration with every ReadMapping it kept (an inline JWKS, say) turned back
    into a dict, so nothing after loading records reads or meets an unfamiliar type."""
    if isinstance(value, dict):
        return {key: plain(item) for key, item in dict.items(value)}
    if type(value) is tuple:
        return tuple(plain(item) for item in value)
    if type(value) is list:
        return [plain(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        changed = {f.name: plain(getattr(value, f.name)) for f in dataclasses.fields(value)
                   if f.init}
        return dataclasses.replace(value, **changed)
    return value


def _wrap(node: Any) -> Any:
    if isinstance(node, dict):
        return ReadMapping({key: _wrap(value) for key, value in node.items()})
    if isinstance(node, list):
        return [_wrap(value) for value in node]
    return node


@dataclass(frozen=True)
class UnknownKey:
    parent: str
    name: str
    known: tuple[str, ...]

    @property
    def dotted(self) -> str:
        return f"{self.parent}.{self.name}" if self.parent else self.name

    def suggestion(self) -> str | None:
        close = difflib.get_close_matches(self.name, self.known, n=1, cutoff=0.6)
        return close[0] if close else None

    def problem(self) -> str:
        close = self.suggestion()
        if close:
            return f"unknown key (did you mean {close}?)"
        return f"unknown key (known here: {', '.join(sorted(self.known))})"


class ReadKeys:
    """The YAML tree as the loader will read it, and what it did not read."""

    def __init__(self, source: str, raw: dict[str, Any]):
        self.source = source
        self.tree = _wrap(raw)
        self.tree.mark_schema()

    def unknown(self) -> Iterator[UnknownKey]:
        yield from _unknown(self.tree, "")

    def refuse_unknown(self) -> None:
        for key in self.unknown():
            raise ConfigError(self.source, key.dotted, key.problem())

    def explain(self, error: ConfigError) -> ConfigError:
        """A required key reported missing beside an unknown key that resembles it: the unknown
        key is the mistake to name (`isuer`, not `issuer: is required`). An error about a key
        that is present (its value, or a retired key) stands as it is."""
        if _present(self.tree, error.key):
            return error
        parent, _, name = error.key.rpartition(".")
        for key in self.unknown():
            if key.parent == parent and difflib.get_close_matches(name, [key.name], cutoff=0.6):
                return ConfigError(self.source, key.dotted, f"unknown key (did you mean {name}?)")
        return error


def _present(tree: Any, dotted: str) -> bool:
    node = tree
    for part in re.findall(r"[^.\[\]]+|\[\d+\]", dotted):
        if part.startswith("["):
            index = int(part[1:-1])
            if not isinstance(node, list) or index >= len(node):
                return False
            node = node[index]
        elif isinstance(node, dict) and dict.__contains__(node, part):
            node = dict.__getitem__(node, part)
        else:
            return False
    return True


def _unknown(node: Any, path: str) -> Iterator[UnknownKey]:
    if isinstance(node, ReadMapping):
        if node.schema:
            known = tuple(str(k) for k in node.asked)
            for key in dict.keys(node):
                if key not in node.asked:
                    yield UnknownKey(path, str(key), known)
        for key, value in dict.items(node):
            yield from _unknown(value, f"{path}.{key}" if path else str(key))
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _unknown(value, f"{path}[{index}]")
