"""`upstream.kind` and the `one_login` section: validated at start-up, errors name key and problem."""

from __future__ import annotations

import pytest

from broker.config import ConfigError, load_config
from tests.conftest import Ports, write_config

PORTS = Ports(18100, 18101, 18102)


def one_login(keys_dir, **changes) -> dict:
    section = {"discovery_url": "https://oidc.integration.account.gov.uk/.well-known/openid-configuration",
               "client_id": "broker-client",
               "signing_keys": [{"file": str(keys_dir / "broker-onelogin-client.jwk.json")}],
               "identity_issuer": "https://identity.integration.account.gov.uk/",
               "did_url": "https://identity.integration.account.gov.uk/.well-known/did.json"}
    section.update(changes)
    return section


def load(tmp_path, keys_dir, **overrides):
    path = write_config(tmp_path, keys_dir, PORTS, "redis://127.0.0.1:6379/0", "t:", **overrides)
    return path, load_config(path, environ={})


def test_verify_stays_the_default_upstream(tmp_path, keys_dir):
    _path, config = load(tmp_path, keys_dir)
    assert config.upstream == "verify" and config.one_login is None


def test_one_login_upstream_loads_into_typed_settings(tmp_path, keys_dir):
    _path, config = load(tmp_path, keys_dir, upstream={"kind": "one_login"},
                         one_login=one_login(keys_dir, client_assertion_alg="PS256"))
    assert config.upstream == "one_login"
    assert config.one_login.client_assertion_alg == "PS256"
    assert config.one_login.identity_issuer == "https://identity.integration.account.gov.uk/"
    assert config.one_login.signing_jwk["kty"] == "RSA"
    assert config.one_login_redirect_uri == f"{PORTS.url('broker')}/onelogin/callback"


@pytest.mark.parametrize("overrides, message", [
    ({"upstream": {"kind": "eidas"}}, "upstream.kind: must be verify, one_login"),
    ({"upstream": {"kind": "one_login"}}, "one_login: is required"),
    ({"upstream": {"kind": "one_login"}, "one_login": {"client_assertion_alg": "ES256"}},
     "one_login.client_assertion_alg: must be RS256 or PS256"),
    ({"upstream": {"kind": "one_login"}, "one_login": {"scopes": ["email"]}},
     "one_login.scopes: must include openid"),
    ({"upstream": {"kind": "one_login"}, "one_login": {"did_url": "not a url"}},
     "one_login.did_url: must be an http(s) URL"),
])
def test_bad_upstream_settings_name_key_and_problem(tmp_path, keys_dir, overrides, message):
    if isinstance(overrides.get("one_login"), dict):
        overrides = {**overrides, "one_login": one_login(keys_dir, **overrides["one_login"])}
    with pytest.raises(ConfigError) as error:
        load(tmp_path, keys_dir, **overrides)
    assert message in str(error.value)


def test_the_private_key_jwt_key_must_be_rsa(tmp_path, keys_dir):
    section = one_login(keys_dir, signing_keys=[
        {"file": str(keys_dir / "broker-oidc-signing.jwk.json")}])
    with pytest.raises(ConfigError, match=r"one_login.signing_keys\[0\].file: .* is not a private RSA JWK"):
        load(tmp_path, keys_dir, upstream={"kind": "one_login"}, one_login=section)


def test_exactly_one_private_key_jwt_key_signs(tmp_path, keys_dir):
    key = {"file": str(keys_dir / "broker-onelogin-client.jwk.json"), "signs": False}
    with pytest.raises(ConfigError, match="one_login.signing_keys: exactly one key must sign"):
        load(tmp_path, keys_dir, upstream={"kind": "one_login"},
             one_login=one_login(keys_dir, signing_keys=[key]))


def test_the_stub_one_login_refuses_production_mode():
    from broker.devtools.stub_hub.app import ProductionRefused
    from broker.devtools.stub_onelogin.app import StubOneLoginConfig, create_stub_onelogin

    with pytest.raises(ProductionRefused, match="stub One Login"):
        create_stub_onelogin(StubOneLoginConfig("http://localhost:8003", "c", (), {"keys": []},
                                                mode="production"))


def test_a_client_key_made_for_another_algorithm_is_refused(tmp_path, keys_dir):
    import json

    jwk = json.loads((keys_dir / "broker-onelogin-client.jwk.json").read_text())
    (tmp_path / "rs256.jwk.json").write_text(json.dumps({**jwk, "alg": "RS256"}))
    section = one_login(keys_dir, client_assertion_alg="PS256",
                        signing_keys=[{"file": str(tmp_path / "rs256.jwk.json")}])
    with pytest.raises(ConfigError, match=r"signing_keys\[0\].file: the JWK is for RS256"):
        load(tmp_path, keys_dir, upstream={"kind": "one_login"}, one_login=section)


def test_hub_and_saml_are_not_needed_when_one_login_is_the_only_upstream(tmp_path, keys_dir,
                                                                        redis_url):
    import subprocess
    import sys

    from broker.app import create_app

    path = write_config(tmp_path, keys_dir, PORTS, redis_url, "t-no-saml:", saml=None, hub=None,
                        upstream={"kind": "one_login"}, one_login=one_login(keys_dir))
    assert "saml:" in path.read_text()  # `saml: null`: as absent as a missing section
    config = load_config(path, environ={})
    assert (config.saml, config.hub) == (None, None)

    client = create_app(config).test_client()
    assert client.get("/saml/metadata").status_code == 404
    ready = client.get("/readyz").get_json()["checks"]
    assert ready["keys"]["ok"] is True and "hub_metadata" not in ready
    metrics = client.get("/metrics").get_data(as_text=True)
    assert "broker_state_store_up 1.0" in metrics and "saml-signing" not in metrics

    def cli(*args):
        return subprocess.run([sys.executable, "-m", "broker.cli", *args, str(path)],
                              capture_output=True, text=True, timeout=60)

    assert cli("check-config", "--offline").returncode == 0
    listed = cli("keys", "list")
    assert listed.returncode == 0, listed.stderr
    assert "one-login-client" in listed.stdout and "saml" not in listed.stdout
    for args, key in ((("sp-metadata",), "saml"), (("metadata", "status"), "hub"),
                      (("keys", "generate", "saml-signing"), "saml")):
        refused = cli(*args)
        assert refused.returncode == 2
        [line] = refused.stderr.splitlines()
        assert f": {key}: no `{key}:` section" in line


def test_verify_as_the_upstream_still_needs_saml(tmp_path, keys_dir):
    with pytest.raises(ConfigError, match="saml: is required"):
        load(tmp_path, keys_dir, saml=None)
