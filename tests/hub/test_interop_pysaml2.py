"""Interoperability with an independent SAML implementation: pysaml2 (with Debian's xmlsec1).

pysaml2 plays the hub: it reads our SP metadata, signs and encrypts a Response, and the broker
accepts it. And the reverse: pysaml2 verifies our metadata's signature and parses and verifies
the signed AuthnRequest the broker sends.
"""

from __future__ import annotations

import base64
import functools
import shutil

import pytest
import requests
import saml2.entity
from onelogin.saml2.constants import OneLogin_Saml2_Constants as C
from saml2 import BINDING_HTTP_POST
from saml2.config import IdPConfig
from saml2.response import IncorrectlySigned
from saml2.saml import NAMEID_FORMAT_PERSISTENT, NameID
from saml2.server import Server
from saml2.sigver import pre_encryption_part

from broker.identity import LevelOfAssurance
from tests.hub.conftest import Outcome, assert_rejected, assert_signed_in
from tests.oidc_client import authorize, post_to_acs


@pytest.fixture(scope="session")
def xmlsec1() -> str:
    path = shutil.which("xmlsec1")
    if path is None:
        pytest.fail("pysaml2 needs Debian's xmlsec1: run the tests with scripts/with-test-services")
    return path


@pytest.fixture
def pysaml2_hub(stack, keys_dir, tmp_path, xmlsec1) -> Server:
    """pysaml2 as the hub's identity provider, with the hub's key and our published metadata."""
    sp_metadata = tmp_path / "broker-sp-metadata.xml"
    sp_metadata.write_bytes(requests.get(f"{stack.broker_url}/saml/metadata", timeout=10).content)
    config = IdPConfig()
    config.load({
        "entityid": stack.hub.entity_id,
        "key_file": str(keys_dir / "hub-signing.key"),
        "cert_file": str(keys_dir / "hub-signing.crt"),
        "xmlsec_binary": xmlsec1,
        "metadata": {"local": [str(sp_metadata)]},
        "service": {"idp": {
            "endpoints": {"single_sign_on_service": [(stack.hub.sso_url, BINDING_HTTP_POST)]},
            "name_id_format": [NAMEID_FORMAT_PERSISTENT],
            "want_authn_requests_signed": True,
            "policy": {"default": {"lifetime": {"minutes": 5},
                                   "name_form": "urn:oasis:names:tc:SAML:2.0:attrname-format:basic"}},
        }},
    })
    return Server(config=config)


def _pysaml2_response(stack, hub: Server, in_response_to: str) -> str:
    encryption_cert = stack.config.saml.encryption[0].cert_pem
    response = hub.create_authn_response(
        identity={"MDS_firstname": ["Jane"], "MDS_surname": ["Doe"],
                  "MDS_dateofbirth": ["1980-05-01"]},
        in_response_to=in_response_to,
        destination=stack.config.acs_url,
        sp_entity_id=stack.config.saml.entity_id,
        name_id=NameID(format=NAMEID_FORMAT_PERSISTENT, text="pysaml2-pid-0001"),
        authn={"class_ref": LevelOfAssurance.LEVEL_2.uri},
        sign_response=True, sign_assertion=True,
        encrypt_assertion=True, encrypt_cert_assertion=encryption_cert,
        # pysaml2's "self-contained" mode renames the assertion's namespace prefixes after
        # signing it (ns0: becomes encas0:), which exclusive c14n does not forgive: the
        # assertion's own signature then no longer verifies (seen here with xmlsec).
        encrypt_assertion_self_contained=False,
        sign_alg=C.RSA_SHA256, digest_alg=C.SHA256,
    )
    return base64.b64encode(str(response).encode()).decode()


AES128_CBC = "http://www.w3.org/2001/04/xmlenc#aes128-cbc"


@pytest.fixture
def pysaml2_encrypts_with_aes(monkeypatch, pysaml2_hub):
    """pysaml2 always encrypts assertions with Triple DES (hard-coded defaults of
    pre_encryption_part and SecurityContext.encrypt_assertion, with no setting); the profile
    says AES, so the test hub's pysaml2 gets AES-128-CBC through those two defaults."""
    monkeypatch.setattr(saml2.entity, "pre_encryption_part",
                        functools.partial(pre_encryption_part, msg_enc=AES128_CBC))
    monkeypatch.setattr(pysaml2_hub.sec, "encrypt_assertion", functools.partial(
        pysaml2_hub.sec.encrypt_assertion, key_type="aes-128"))


def test_broker_accepts_a_response_signed_and_encrypted_by_pysaml2(
        stack, pysaml2_hub, pysaml2_encrypts_with_aes, broker_log):
    attempt = authorize(stack)
    broker_log.clear()
    answer = post_to_acs(stack, _pysaml2_response(stack, pysaml2_hub, attempt.authn_request_id),
                         attempt.relay_state)
    assert_signed_in(Outcome(answer, attempt, broker_log.text))


def test_broker_rejects_pysaml2s_default_triple_des_encryption(stack, pysaml2_hub, broker_log):
    attempt = authorize(stack)
    broker_log.clear()
    answer = post_to_acs(stack, _pysaml2_response(stack, pysaml2_hub, attempt.authn_request_id),
                         attempt.relay_state)
    assert_rejected(Outcome(answer, attempt, broker_log.text), "content encryption algorithm")


def test_pysaml2_verifies_and_parses_the_brokers_authn_request(stack, pysaml2_hub):
    attempt = authorize(stack, acr_values=LevelOfAssurance.LEVEL_2.uri)
    parsed = pysaml2_hub.parse_authn_request(attempt.saml_request, BINDING_HTTP_POST)
    request = parsed.message
    assert request.id == attempt.authn_request_id
    assert request.issuer.text == stack.config.saml.entity_id
    assert request.destination == stack.hub.sso_url
    assert request.signature is not None
    assert request.requested_authn_context.comparison == "minimum"
    assert request.requested_authn_context.authn_context_class_ref[0].text == \
        LevelOfAssurance.LEVEL_2.uri
    assert request.is_passive is None and request.scoping is None
    assert request.assertion_consumer_service_url is None


def test_pysaml2_refuses_an_authn_request_altered_after_signing(stack, pysaml2_hub):
    attempt = authorize(stack)
    xml = base64.b64decode(attempt.saml_request).decode()
    altered = base64.b64encode(xml.replace('Comparison="minimum"', 'Comparison="exact"')
                               .encode()).decode()
    with pytest.raises(IncorrectlySigned):
        pysaml2_hub.parse_authn_request(altered, BINDING_HTTP_POST)


def test_pysaml2_verifies_the_signature_on_the_brokers_metadata(stack, pysaml2_hub, tmp_path):
    metadata = requests.get(f"{stack.broker_url}/saml/metadata", timeout=10).text
    signing_cert = tmp_path / "broker-signing.crt"
    signing_cert.write_text(stack.config.saml.signing.cert_pem)
    assert pysaml2_hub.sec.verify_signature(
        metadata, cert_file=str(signing_cert),
        node_name="urn:oasis:names:tc:SAML:2.0:metadata:EntityDescriptor")


def test_pysaml2_reads_our_keys_and_acs_from_the_metadata(stack, pysaml2_hub):
    entity_id = stack.config.saml.entity_id
    acs = pysaml2_hub.metadata.assertion_consumer_service(entity_id, BINDING_HTTP_POST)
    assert [endpoint["location"] for endpoint in acs] == [stack.config.acs_url]
    assert len(pysaml2_hub.metadata.certs(entity_id, "spsso", "encryption")) == 1
    assert len(pysaml2_hub.metadata.certs(entity_id, "spsso", "signing")) == 1
