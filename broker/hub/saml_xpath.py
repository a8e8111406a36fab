"""Gives python3-saml's response checks XPath expressions compiled once per thread.

python3-saml runs some forty XPath queries over every Response, each compiled again from its
text by `element.xpath(...)`. The same expressions, with the same namespaces and variables,
compiled once and kept (lxml's compiled XPath is kept per thread, as lxml advises for its
evaluators), give the same node lists for a quarter of the CPU (benchmarks/README.md).

As with broker.hub.saml_clock, only python3-saml's response module sees the change: its
module-level name for the XML utilities is replaced by a subclass of whatever is there.
"""

from __future__ import annotations

import threading

from lxml import etree
from onelogin.saml2 import response as _response_module
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C

from broker.hub import saml_schema  # noqa: F401  (its subclass first; this one extends it)

_local = threading.local()
MAX_EXPRESSIONS = 256


def compiled(expression: str) -> etree.XPath:
    cache = _local.__dict__.setdefault("expressions", {})
    xpath = cache.get(expression)
    if xpath is None:
        if len(cache) >= MAX_EXPRESSIONS:  # expressions that embed message values
            cache.clear()
        xpath = cache[expression] = etree.XPath(expression, namespaces=C.NSMAP)
    return xpath


_Base = _response_module.OneLogin_Saml2_XML


class _CompiledXPathXML(_Base):
    @staticmethod
    def query(dom, query, context=None, tagid=None):
        source = dom if context is None else context
        if tagid is None:
            return compiled(query)(source)
        return compiled(query)(source, tagid=tagid)


_response_module.OneLogin_Saml2_XML = _CompiledXPathXML
