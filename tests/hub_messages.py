"""Builds the hub's answers for a test's flow, with the stub hub's real keys."""

from __future__ import annotations

from broker.devtools.stub_hub import saml
from broker.devtools.stub_hub.identities import IDENTITIES


def assertion_spec(stack, in_response_to: str, identity: str = "jane", **changes
                   ) -> saml.AssertionSpec:
    person = IDENTITIES[identity]
    spec = saml.AssertionSpec(
        issuer=stack.hub.entity_id, audience=stack.config.saml.entity_id,
        recipient=stack.config.acs_url, in_response_to=in_response_to, pid=person.pid,
        level_uri=person.level.uri, dataset=person.dataset)
    for name, value in changes.items():
        setattr(spec, name, value)
    return spec


def success(stack, in_response_to: str, identity: str = "jane", **changes) -> str:
    spec = assertion_spec(stack, in_response_to, identity, **changes)
    return saml.encode(saml.success_response(stack.hub.signer, spec,
                                             stack.config.saml.encryption[0].cert_pem,
                                             stack.config.acs_url))


def failure(stack, in_response_to: str, kind: str) -> str:
    return saml.encode(saml.failure_response(stack.hub.signer, kind, in_response_to,
                                             stack.config.acs_url))
