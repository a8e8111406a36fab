"""Our own signed SAML service provider metadata, for the hub's operators and tooling."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from xml.sax.saxutils import quoteattr

from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from onelogin.saml2.utils import OneLogin_Saml2_Utils

from broker.config import BrokerConfig
from broker.hub.federation import MD


def strip_pem(pem: str) -> str:
    return "".join(line for line in pem.strip().splitlines() if "-----" not in line)


def sp_metadata(config: BrokerConfig, valid_for: timedelta = timedelta(days=7)) -> str:
    """Our signed SP metadata: the signing key (and the next one, during a rotation), one or two
    encryption keys, the HTTP-POST assertion consumer service."""
    valid_until = (datetime.now(UTC) + valid_for).strftime("%Y-%m-%dT%H:%M:%SZ")
    saml = config.saml

    def key_descriptor(use: str, cert_pem: str) -> str:
        return (f'<md:KeyDescriptor use="{use}"><ds:KeyInfo><ds:X509Data><ds:X509Certificate>'
                f"{strip_pem(cert_pem)}</ds:X509Certificate></ds:X509Data></ds:KeyInfo>"
                "</md:KeyDescriptor>")

    signing = [saml.signing.cert_pem]
    if saml.signing_next_cert_pem:
        signing.append(saml.signing_next_cert_pem)
    keys = "".join(key_descriptor("signing", cert) for cert in signing) + "".join(
        key_descriptor("encryption", pair.cert_pem) for pair in saml.encryption)
    xml = (
        f'<md:EntityDescriptor xmlns:md="{MD}" xmlns:ds="{C.NS_DS}" '
        f'entityID={quoteattr(saml.entity_id)} validUntil="{valid_until}" ID="_sp-metadata">'
        f'<md:SPSSODescriptor AuthnRequestsSigned="true" WantAssertionsSigned="true" '
        f'protocolSupportEnumeration="{C.NS_SAMLP}">{keys}'
        f"<md:NameIDFormat>{C.NAMEID_PERSISTENT}</md:NameIDFormat>"
        f'<md:AssertionConsumerService Binding="{C.BINDING_HTTP_POST}" '
        f'Location={quoteattr(config.acs_url)} index="0" isDefault="true"/>'
        "</md:SPSSODescriptor></md:EntityDescriptor>"
    )
    signed = OneLogin_Saml2_Utils.add_sign(xml, saml.signing.key_pem, saml.signing.cert_pem,
                                           sign_algorithm=C.RSA_SHA256,
                                           digest_algorithm=C.SHA256)
    return signed.decode() if isinstance(signed, bytes) else signed
