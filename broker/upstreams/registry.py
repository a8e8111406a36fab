"""The one place that builds the configured upstreams and tells their kinds apart.

Everything else (the journey, `/readyz`, `/metrics`, `check-config`, the application factory)
holds an `Upstreams` and speaks to each upstream through `broker.upstreams.interface`. Adding a
plug-in is one entry in `_BUILDERS`, its package and its documentation.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING

from broker.upstreams.interface import Upstream

if TYPE_CHECKING:
    from broker.config import BrokerConfig
    from broker.state import BrokerState


def _verify_hub(config: BrokerConfig, state: BrokerState | None) -> Upstream:
    from broker.hub.upstream import HubUpstream

    return HubUpstream(config, state)


def _one_login(config: BrokerConfig, state: BrokerState | None) -> Upstream:
    from broker.one_login.upstream import OneLoginUpstream

    return OneLoginUpstream(config, state)


def _openid_ida(config: BrokerConfig, state: BrokerState | None) -> Upstream:
    from broker.openid_ida.upstream import OpenIdIdaUpstream

    return OpenIdIdaUpstream(config, state)


# The configuration's upstream kind → the plug-in that serves it (imported only when configured).
_BUILDERS: dict[str, Callable[[BrokerConfig, BrokerState | None], Upstream]] = {
    "verify": _verify_hub,
    "one_login": _one_login,
    "openid_ida": _openid_ida,
}


class Upstreams:
    """The configured upstreams by name, and which one serves each council."""

    def __init__(self, by_name: dict[str, Upstream], default: str,
                 councils: dict[str, str] | None = None):
        self._by_name = by_name
        self._default = default
        self._councils = councils or {}

    def __iter__(self) -> Iterator[Upstream]:
        return iter(self._by_name.values())

    @property
    def default(self) -> Upstream:
        return self._by_name[self._default]

    def named(self, name: str) -> Upstream | None:
        return self._by_name.get(name)

    def for_council(self, council_id: str) -> Upstream:
        """The council's own upstream when its configuration names one, else the broker's."""
        return self._by_name[self._councils.get(council_id, self._default)]


def upstream_kinds(config: BrokerConfig) -> dict[str, str]:
    """Each council's upstream kind, by council id (the broker's own where it names none)."""
    return {council.id: council.upstream or config.upstream
            for council in config.councils.values()}


def build_upstreams(config: BrokerConfig, state: BrokerState | None = None) -> Upstreams:
    """Every upstream the configuration uses, built once (nothing is fetched until first used).

    `state` is None for `check-config`, which shares nothing with a running broker."""
    councils = upstream_kinds(config)
    kinds = sorted({config.upstream, *councils.values()})
    unknown = [kind for kind in kinds if kind not in _BUILDERS]
    if unknown:  # configuration refuses these first; this is the last line of defence
        raise ValueError(f"no upstream plug-in for {', '.join(unknown)}")
    by_name = {}
    for kind in kinds:
        upstream = _BUILDERS[kind](config, state)
        upstream.name = kind
        by_name[kind] = upstream
    return Upstreams(by_name, config.upstream, councils)
