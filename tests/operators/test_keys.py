"""`broker keys generate|list|rotate|retire`: each step of a rotation, the rollback, the audit
event, and an operator's comments surviving the edit (ADR 0006)."""

from __future__ import annotations

import json
import logging
import re
import secrets
import shutil
from pathlib import Path

import pytest

from broker.config import load_config
from broker.hub.sp_metadata import sp_metadata
from broker.oidc.keys import SigningKeys
from broker.operations.certs import key_matches_certificate
from broker.operations.keys import KeyManager, new_jwk
from tests.operators.conftest import ROOT, run_cli


def loaded(path: Path):
    return load_config(path, environ={})


def signing_descriptors(path: Path) -> int:
    return sp_metadata(loaded(path)).count('use="signing"')


def jwks_kids(path: Path) -> list[str]:
    return [key["kid"] for key in SigningKeys(loaded(path).oidc.signing_keys).jwks()["keys"]]


def signing_kid(path: Path, alg: str = "ES256") -> str:
    return SigningKeys(loaded(path).oidc.signing_keys).for_alg(alg).kid


def manager(path: Path) -> KeyManager:
    return KeyManager(path, operator="test-operator", environ={})


def test_list_columns_never_run_into_each_other(operator_config, keys):
    path = operator_config(**{"one_login": {
        "discovery_url": "https://oidc.integration.account.gov.uk/.well-known/openid-configuration",
        "client_id": "broker", "identity_issuer": "https://identity.integration.account.gov.uk/",
        "did_url": "https://identity.integration.account.gov.uk/.well-known/did.json",
        "signing_keys": [{"file": str(keys / "broker-onelogin-client.jwk.json")}]}})
    result = run_cli("keys", "list", str(path))
    assert result.returncode == 0, result.stderr
    rows = [re.split(r"\s{2,}", line) for line in result.stdout.splitlines()]
    assert rows[0] == ["KIND", "ROLE", "ID", "EXPIRES", "CONFIG KEY"]
    assert all(len(row) == 5 for row in rows), result.stdout
    assert ["one-login-client", "one_login.signing_keys[0]"] in [[row[0], row[4]] for row in rows]


def test_key_commands_print_no_alembic_lines(operator_config):
    path = operator_config()
    assert run_cli("db", "upgrade", str(path)).returncode == 0
    for args in (("list",), ("generate", "oidc-es256")):
        result = run_cli("keys", *args, str(path))
        assert result.returncode == 0, result.stderr
        assert "alembic" not in result.stdout + result.stderr


def test_list_shows_what_signs_what_decrypts_and_when_each_certificate_expires(operator_config):
    result = run_cli("keys", "list", str(operator_config()))
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["saml-signing", "saml-encryption", "oidc-es256",
                                                 "data"]
    assert "signs; published" in rows[0] and "saml.signing" in rows[0]
    assert "decrypts; published first" in rows[1]
    assert "signs ID/logout tokens; in JWKS" in rows[2]
    assert "seals and opens Redis values" in rows[3] and "demo-data-key" in rows[3]
    assert re.search(r"\d{4}-\d\d-\d\d \(\d+ days\)", rows[0])


def test_generate_saml_signing_publishes_the_next_certificate_without_signing_with_it(
        operator_config):
    path = operator_config()
    before = loaded(path).saml.signing
    manager(path).generate("saml-signing")
    config = loaded(path)
    assert config.saml.signing == before
    assert config.saml.signing_next_cert_pem is not None
    assert signing_descriptors(path) == 2


def test_generated_saml_key_files_are_private_and_match_their_certificate(operator_config, keys):
    path = operator_config()
    manager(path).generate("saml-signing")
    [new_key] = [p for p in keys.glob("broker-saml-signing-*.key")]
    [new_cert] = [p for p in keys.glob("broker-saml-signing-*.crt")]
    assert new_key.stat().st_mode & 0o777 == 0o600
    assert key_matches_certificate(new_key.read_text(), new_cert.read_text())


def test_rotate_saml_signing_signs_with_the_new_key_and_keeps_the_old_certificate_published(
        operator_config):
    path = operator_config()
    old = loaded(path).saml.signing.cert_pem
    manager(path).generate("saml-signing")
    new = loaded(path).saml.signing_next_cert_pem
    manager(path).rotate("saml-signing")
    config = loaded(path)
    assert config.saml.signing.cert_pem == new
    assert config.saml.signing_next_cert_pem == old
    assert signing_descriptors(path) == 2


def test_rotating_again_rolls_back_to_the_previous_signing_key(operator_config):
    path = operator_config()
    old = loaded(path).saml.signing.cert_pem
    manager(path).generate("saml-signing")
    manager(path).rotate("saml-signing")
    manager(path).rotate("saml-signing")
    assert loaded(path).saml.signing.cert_pem == old


def test_retire_saml_signing_stops_publishing_the_certificate_not_in_use(operator_config):
    path = operator_config()
    manager(path).generate("saml-signing")
    new = loaded(path).saml.signing_next_cert_pem
    manager(path).rotate("saml-signing")
    manager(path).retire("saml-signing")
    config = loaded(path)
    assert config.saml.signing.cert_pem == new
    assert config.saml.signing_next_cert_pem is None
    assert signing_descriptors(path) == 1


def test_generate_saml_encryption_adds_a_second_pair_that_decrypts_at_once(operator_config):
    path = operator_config()
    manager(path).generate("saml-encryption")
    pairs = loaded(path).saml.encryption
    assert len(pairs) == 2
    assert sp_metadata(loaded(path)).count('use="encryption"') == 2
    assert all(key_matches_certificate(p.key_pem, p.cert_pem) for p in pairs)


def test_rotate_then_retire_saml_encryption_leaves_only_the_new_pair(operator_config):
    path = operator_config()
    old = loaded(path).saml.encryption[0]
    manager(path).generate("saml-encryption")
    new = loaded(path).saml.encryption[1]
    manager(path).rotate("saml-encryption")
    assert loaded(path).saml.encryption == (new, old)
    manager(path).retire("saml-encryption")
    assert loaded(path).saml.encryption == (new,)


def test_generate_oidc_key_publishes_it_in_the_jwks_without_signing(operator_config):
    path = operator_config()
    signer = signing_kid(path)
    manager(path).generate("oidc-es256")
    assert len(jwks_kids(path)) == 2
    assert signing_kid(path) == signer


def test_the_signing_key_shorthand_becomes_a_list_when_a_key_is_added(operator_config):
    path = operator_config()
    assert "signing_key:" in path.read_text()
    manager(path).generate("oidc-es256")
    text = path.read_text()
    assert "signing_key:" not in text and "signing_keys:" in text and "signs: false" in text


def test_rotate_oidc_signs_with_the_new_key_and_keeps_the_old_one_in_the_jwks(operator_config):
    path = operator_config()
    old = signing_kid(path)
    manager(path).generate("oidc-es256")
    [new] = [kid for kid in jwks_kids(path) if kid != old]
    manager(path).rotate("oidc-es256")
    assert signing_kid(path) == new
    assert set(jwks_kids(path)) == {old, new}


def test_retire_oidc_removes_the_old_key_from_the_jwks(operator_config):
    path = operator_config()
    old = signing_kid(path)
    manager(path).generate("oidc-es256")
    manager(path).rotate("oidc-es256")
    manager(path).retire("oidc-es256")
    assert old not in jwks_kids(path) and len(jwks_kids(path)) == 1


def test_the_first_rs256_key_signs_at_once(operator_config):
    path = operator_config()
    manager(path).generate("oidc-rs256")
    assert signing_kid(path, "RS256")
    assert signing_kid(path, "ES256")


def test_generate_refuses_while_a_second_key_is_published(operator_config):
    path = operator_config()
    assert run_cli("keys", "generate", "saml-signing", str(path)).returncode == 0
    before = path.read_text()
    result = run_cli("keys", "generate", "saml-signing", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"broker: {path}: saml.signing_next: a second signing key is already published: finish "
        "that rotation (rotate, retire) first"]
    assert path.read_text() == before


def test_retire_with_nothing_to_retire_is_refused_in_one_line(operator_config):
    path = operator_config()
    result = run_cli("keys", "retire", "oidc-es256", str(path))
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "oidc.signing_keys: nothing to retire" in result.stderr


def test_each_step_prints_what_changed_and_the_next_step(operator_config):
    path = operator_config()
    result = run_cli("keys", "generate", "oidc-es256", str(path))
    assert result.returncode == 0, result.stderr
    assert "does not sign yet" in result.stdout
    assert "next: restart each broker process in turn" in result.stdout
    assert "broker keys rotate oidc-es256" in result.stdout


@pytest.mark.parametrize("action", ["generate", "rotate", "retire"])
def test_each_key_change_leaves_an_audit_event(operator_config, caplog, action):
    path = operator_config()
    caplog.set_level(logging.INFO, logger="broker.audit")
    steps = ["generate", "rotate", "retire"]
    for step in steps[:steps.index(action) + 1]:
        getattr(manager(path), step)("saml-encryption")
    record = caplog.records[-1]
    assert record.name == "broker.audit"
    assert record.event == {"generate": "key.generated", "rotate": "key.rotated",
                            "retire": "key.retired"}[action]
    assert record.key_kind == "saml-encryption"
    assert record.operator == "test-operator"
    assert record.config == str(path)


def test_the_command_line_writes_its_audit_event_to_standard_error(operator_config):
    result = run_cli("keys", "generate", "saml-encryption", str(operator_config()),
                     "--operator", "alice")
    assert "key.generated" in result.stderr and "alice" in result.stderr


def test_a_whole_rotation_of_the_example_file_changes_only_the_key_file_lines(tmp_path, keys):
    """The example configuration, with its keys present, through a whole rotation."""
    example = (ROOT / "config" / "example.yaml").read_text()
    published = "secret_key: change-me-to-a-long-random-value-from-your-secret-store"
    assert published in example  # production refuses it: an operator sets their own
    (tmp_path / "broker.yaml").write_text(example.replace(
        published, f"secret_key: {secrets.token_urlsafe(32)}").replace(
        "client_secret: change-me", f"client_secret: {secrets.token_urlsafe(32)}"))
    shutil.copytree(ROOT / "config" / "brand", tmp_path / "brand")  # the example council's logo
    key_dir = tmp_path / "keys"
    for name, source in (("saml-signing", "broker-saml-signing"),
                         ("saml-encryption", "broker-saml-encryption"),
                         ("federation-metadata-signing", "federation-metadata-signing"),
                         ("metadata-truststore", "metadata-truststore"),
                         ("hub-truststore", "hub-truststore"),
                         ("idp-truststore", "idp-truststore")):
        for suffix in (".key", ".crt", ".pem"):
            if (keys / f"{source}{suffix}").exists() and not (key_dir / f"{name}{suffix}").exists():
                shutil.copy(keys / f"{source}{suffix}", key_dir / f"{name}{suffix}")
    shutil.copy(keys / "broker-oidc-signing.jwk.json", key_dir / "oidc-signing-es256.jwk.json")
    shutil.copy(keys / "broker-data-key.jwk.json", key_dir / "data-key.jwk.json")
    (key_dir / "oidc-signing-rs256.jwk.json").write_text(json.dumps(new_jwk("oidc-rs256")))
    (key_dir / "oidc-signing-rs256.jwk.json").chmod(0o600)  # production refuses a 0644 key
    shutil.copy(keys / "broker-onelogin-client.jwk.json", key_dir / "one-login-client.jwk.json")
    path = tmp_path / "broker.yaml"
    original = path.read_text()
    comments = [line.strip() for line in original.splitlines() if line.strip().startswith("#")]
    for kind in ("saml-signing", "saml-encryption", "oidc-es256", "data", "one-login-client"):
        for step in ("generate", "rotate", "retire"):
            getattr(manager(path), step)(kind)
    edited = path.read_text()
    for comment in comments:
        assert comment in edited
    changed = [(before, after) for before, after in zip(original.splitlines(), edited.splitlines(),
                                                        strict=True) if before != after]
    assert [before.split(":")[0].strip() for before, _ in changed] == [
        "- file", "key", "cert", "- key", "cert", "- file", "- file"]


def test_a_change_that_would_not_load_leaves_the_file_and_no_new_key_files(operator_config, keys,
                                                                          monkeypatch):
    from broker.config import ConfigError
    from broker.operations import yamledit

    def refuse(path, environ):
        raise ConfigError(str(path), "saml.encryption", "refused for this test")

    path = operator_config()
    before, files_before = path.read_text(), sorted(keys.iterdir())
    monkeypatch.setattr(yamledit, "load_config", refuse)
    with pytest.raises(ConfigError, match="the change was not made: refused for this test"):
        manager(path).generate("saml-encryption")
    assert path.read_text() == before
    assert sorted(keys.iterdir()) == files_before


def test_a_first_install_generates_key_files_without_any_configuration(tmp_path):
    out = tmp_path / "new-keys"
    for kind in ("saml-signing", "saml-encryption", "oidc-es256"):
        result = run_cli("keys", "generate", kind, "--out", str(out))
        assert result.returncode == 0, result.stderr
    assert sorted(p.name for p in out.iterdir()) == [
        "oidc-signing-es256.jwk.json", "saml-encryption.crt", "saml-encryption.key",
        "saml-signing.crt", "saml-signing.key"]
    assert key_matches_certificate((out / "saml-signing.key").read_text(),
                                   (out / "saml-signing.crt").read_text())
    assert (out / "oidc-signing-es256.jwk.json").stat().st_mode & 0o777 == 0o600
    again = run_cli("keys", "generate", "saml-signing", "--out", str(out))
    assert again.returncode == 2 and "already exists; not overwriting it" in again.stderr


def data_keys(path: Path) -> list[tuple[str, bool]]:
    return [(key.id, key.encrypts) for key in loaded(path).data_keys]


def test_generate_data_adds_a_key_that_opens_values_but_does_not_seal_yet(operator_config, keys):
    path = operator_config()
    [(old, _)] = data_keys(path)
    result = run_cli("keys", "generate", "data", str(path))
    assert result.returncode == 0, result.stderr
    assert "restart every broker process" in result.stdout
    [(first, first_encrypts), (new, new_encrypts)] = data_keys(path)
    assert (first, first_encrypts) == (old, True) and new != old and new_encrypts is False
    assert loaded(path).sealer().sealing_key_id == old
    [new_file] = keys.glob("broker-data-key-*.jwk.json")
    assert new_file.stat().st_mode & 0o777 == 0o600


def test_rotate_data_seals_with_the_new_key_and_the_old_one_still_opens(operator_config):
    path = operator_config()
    [(old, _)] = data_keys(path)
    manager(path).generate("data")
    [_, (new, _)] = data_keys(path)
    sealed_before = loaded(path).sealer().seal("broker:session:x", b"in flight")
    manager(path).rotate("data")
    assert data_keys(path) == [(new, True), (old, False)]
    sealer = loaded(path).sealer()
    assert sealer.sealing_key_id == new
    assert sealer.open("broker:session:x", sealed_before) == b"in flight"


def test_rotating_data_again_rolls_back_to_the_previous_data_key(operator_config):
    path = operator_config()
    [(old, _)] = data_keys(path)
    manager(path).generate("data")
    manager(path).rotate("data")
    manager(path).rotate("data")
    assert loaded(path).sealer().sealing_key_id == old


def test_retire_data_removes_the_key_that_no_longer_seals(operator_config):
    from broker.sealing import SealedValueRefused

    path = operator_config()
    sealed_with_old = loaded(path).sealer().seal("broker:flow:x", b"old")
    manager(path).generate("data")
    [_, (new, _)] = data_keys(path)
    manager(path).rotate("data")
    manager(path).retire("data")
    assert data_keys(path) == [(new, True)]
    with pytest.raises(SealedValueRefused):
        loaded(path).sealer().open("broker:flow:x", sealed_with_old)


def test_generate_data_refuses_while_a_rotation_is_unfinished(operator_config):
    path = operator_config()
    manager(path).generate("data")
    before = path.read_text()
    result = run_cli("keys", "generate", "data", str(path))
    assert result.returncode == 2
    assert "data_keys: a data key that does not encrypt is already configured" in result.stderr
    assert path.read_text() == before


def test_the_first_data_key_of_an_existing_deployment_seals_at_once(operator_config):
    import yaml

    path = operator_config()
    document = yaml.safe_load(path.read_text())
    del document["data_keys"]
    path.write_text(yaml.safe_dump(document, sort_keys=False))
    assert loaded(path).data_keys == ()
    messages = manager(path).generate("data")
    [(key_id, encrypts)] = data_keys(path)
    assert encrypts and "sealing at once" in messages[0] and key_id in messages[0]
    order = list(yaml.safe_load(path.read_text()))
    assert order.index("data_keys") == order.index("secret_key") + 1


def test_a_first_install_generates_a_data_key_file(tmp_path):
    from broker.sealing import DataKey

    out = tmp_path / "new-keys"
    result = run_cli("keys", "generate", "data", "--out", str(out))
    assert result.returncode == 0, result.stderr
    path = out / "data-key.jwk.json"
    assert path.stat().st_mode & 0o777 == 0o600
    key = DataKey.from_jwk(json.loads(path.read_text()))
    assert key.id in result.stdout and "data_keys" in result.stdout


def test_key_commands_leave_their_audit_events_in_the_link_stores_trail(operator_config):
    path = operator_config()
    assert run_cli("db", "upgrade", str(path)).returncode == 0
    for step in ("generate", "rotate"):
        result = run_cli("keys", step, "oidc-es256", str(path), "--operator", "alice")
        assert result.returncode == 0, result.stderr
        assert "no audit trail" not in result.stderr
    from broker.config import load_config
    from broker.matching.database import make_engine
    from broker.matching.links import LinkStore

    events = LinkStore(make_engine(load_config(path, environ={}).database.url)).audit_events()
    assert [(e.actor, e.action, e.council_id) for e in events] == [
        ("alice", "key.generated", "(all councils)"), ("alice", "key.rotated", "(all councils)")]
    assert events[0].detail.startswith(f"oidc-es256 in {path}: published in the JWKS:")


def test_a_key_command_is_refused_when_a_matching_brokers_trail_is_not_ready(operator_config):
    path = operator_config(**{"councils.test-borough.matching": {
        "service_url": "https://matching.example.test/match", "contact": {"phone": "0300"}}})
    before = path.read_text()
    result = run_cli("keys", "generate", "oidc-es256", str(path))
    assert result.returncode == 2
    assert "database.url: the audit trail has no schema yet: run `broker db upgrade`" in result.stderr
    assert path.read_text() == before


def test_without_a_link_store_a_key_command_says_its_event_is_only_on_the_log(operator_config):
    path = operator_config()
    result = run_cli("keys", "generate", "oidc-es256", str(path))
    assert result.returncode == 0, result.stderr
    assert "database.url: warning: no audit trail there" in result.stderr
    assert not (path.parent / "links.sqlite3").exists()


def test_public_prints_the_one_login_client_key_as_jwk_and_pem_to_register(operator_config, keys):
    from cryptography.hazmat.primitives.serialization import load_pem_public_key
    from joserfc.jwk import RSAKey

    private = json.loads((keys / "broker-onelogin-client.jwk.json").read_text())
    path = operator_config(**{"one_login": {
        "discovery_url": "https://oidc.integration.account.gov.uk/.well-known/openid-configuration",
        "client_id": "broker", "identity_issuer": "https://identity.integration.account.gov.uk/",
        "did_url": "https://identity.integration.account.gov.uk/.well-known/did.json",
        "signing_keys": [{"file": str(keys / "broker-onelogin-client.jwk.json")}]}})
    result = run_cli("keys", "public", "one-login-client", str(path))
    assert result.returncode == 0, result.stderr
    heading, rest = result.stdout.split("\n", 1)
    jwk_text, pem = rest.split("-----BEGIN PUBLIC KEY-----")
    jwk = json.loads(jwk_text)
    expected = RSAKey.import_key(private)
    assert heading == f"# one-login-client kid {expected.thumbprint()} (signs client assertions)"
    assert "d" not in jwk and "p" not in jwk
    assert (jwk["n"], jwk["e"], jwk["use"], jwk["alg"]) == (private["n"], private["e"], "sig",
                                                            "RS256")
    public = load_pem_public_key(f"-----BEGIN PUBLIC KEY-----{pem}".encode())
    assert public.public_numbers() == expected.public_key.public_numbers()
    assert "PRIVATE" not in result.stdout


def test_public_without_a_one_login_section_says_so_in_one_line(operator_config):
    result = run_cli("keys", "public", "one-login-client", str(operator_config()))
    assert result.returncode == 2
    assert result.stderr.strip().endswith("no One Login section: configure one_login first "
                                          "(docs/operations.md, One Login)")
