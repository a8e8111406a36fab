"""The identity service's DID document: where the key that signs core identity JWTs is published.

One Login publishes it as `did:web` (W3C DID Core; did:web method): a JSON document at
`https://<host>/.well-known/did.json` whose `assertionMethod` entries carry `publicKeyJwk` keys.
A core identity JWT names its key in `kid` as `<did>#<key id>`. The document is not signed: it is
trusted because it comes over TLS from the identity service's own host, which the DID names, so
a document that names another DID, or whose keys are not public EC P-256 keys, is refused whole.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, urlparse

from joserfc.errors import JoseError
from joserfc.jwk import ECKey


class DidDocumentError(Exception):
    """The DID document cannot be trusted or read; the message says why."""


def did_web_for(did_url: str) -> str:
    """The DID a `did:web` document at `did_url` must carry: the host (port as %3A) and, for a
    document not at /.well-known/did.json, its path with `/` as `:`."""
    parsed = urlparse(did_url)
    host = quote(parsed.netloc, safe="")
    path = parsed.path
    if path in ("/.well-known/did.json", ""):
        return f"did:web:{host}"
    if not path.endswith("/did.json"):
        raise DidDocumentError(f"not a did:web document URL: {did_url}")
    parts = [quote(part, safe="") for part in path[: -len("/did.json")].strip("/").split("/")]
    return ":".join([f"did:web:{host}", *parts])


@dataclass(frozen=True)
class DidDocument:
    did: str
    keys: dict[str, ECKey]  # full key id (<did>#<id>) -> public key

    def key_for(self, kid: str | None) -> ECKey:
        if not kid or kid not in self.keys:
            raise DidDocumentError("the signing key is not in the identity service's DID document")
        return self.keys[kid]


def parse_did_document(data: Any, expected_did: str) -> DidDocument:
    if not isinstance(data, dict):
        raise DidDocumentError("the DID document is not a JSON object")
    if data.get("id") != expected_did:
        raise DidDocumentError(f"the DID document is for {data.get('id')!r}, not {expected_did!r}")
    methods = data.get("assertionMethod")
    if not isinstance(methods, list) or not methods:
        raise DidDocumentError("the DID document has no assertionMethod")
    keys: dict[str, ECKey] = {}
    for method in methods:
        if not isinstance(method, dict):
            raise DidDocumentError("an assertionMethod entry is not an object")
        controller = method.get("controller", expected_did)
        if controller != expected_did:
            raise DidDocumentError(f"an assertionMethod is controlled by {controller!r}")
        method_id = method.get("id")
        if not isinstance(method_id, str) or not method_id:
            raise DidDocumentError("an assertionMethod has no id")
        full_id = method_id if "#" in method_id else f"{expected_did}#{method_id}"
        if not full_id.startswith(f"{expected_did}#"):
            raise DidDocumentError(f"assertionMethod {method_id!r} belongs to another DID")
        jwk = method.get("publicKeyJwk")
        if not isinstance(jwk, dict) or jwk.get("kty") != "EC" or jwk.get("crv") != "P-256":
            raise DidDocumentError(f"assertionMethod {method_id!r} is not an EC P-256 key")
        if "d" in jwk:
            raise DidDocumentError(f"assertionMethod {method_id!r} publishes a private key")
        try:
            keys[full_id] = ECKey.import_key(dict(jwk))
        except (JoseError, ValueError, TypeError) as exc:
            raise DidDocumentError(f"assertionMethod {method_id!r} is not a valid key: {exc}") from None
    return DidDocument(expected_did, keys)
