"""`broker check-config`: every problem the broker would meet, one line each, before it starts."""

from __future__ import annotations

import datetime as dt

import responses

from broker.operations.checks import run_checks
from tests.operators.conftest import certificate, run_cli, signed_hub_metadata

MATCHING = {"service_url": "https://matching.example.test/match", "contact": {"phone": "0300 000"}}


def problem_lines(result) -> list[str]:
    return [line for line in result.stderr.strip().splitlines() if line]


def write_pair(directory, name, key_pem, cert_pem) -> dict[str, str]:
    (directory / f"{name}.key").write_text(key_pem)
    (directory / f"{name}.crt").write_text(cert_pem)
    return {"key": str(directory / f"{name}.key"), "cert": str(directory / f"{name}.crt")}


def test_a_complete_configuration_with_redis_and_trusted_metadata_passes(operator_config):
    result = run_cli("check-config", str(operator_config()))
    assert result.returncode == 0, result.stderr
    assert "ok" in result.stdout
    assert result.stderr == ""


def test_a_schema_problem_is_one_line_naming_file_key_and_problem(operator_config):
    path = operator_config(**{"oidc.code_ttl_seconds": 600})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    assert problem_lines(result) == [f"{path}: oidc.code_ttl_seconds: must be between 1 and 60"]


def test_a_private_key_that_does_not_match_its_certificate_is_named(operator_config, keys):
    path = operator_config(**{"saml.signing": {
        "key": str(keys / "broker-saml-encryption.key"), "cert": str(keys / "broker-saml-signing.crt")}})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    assert problem_lines(result) == [
        f"{path}: saml.signing.key: private key does not match the certificate in saml.signing.cert"]


def test_an_expired_certificate_fails_the_check(operator_config, tmp_path):
    pair = write_pair(tmp_path, "old-encryption", *certificate(-400, -1))
    path = operator_config(**{"saml.encryption": [pair]})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert line.startswith(f"{path}: saml.encryption[0].cert: certificate expired on ")


def test_a_certificate_expiring_within_30_days_is_a_warning_that_does_not_fail(operator_config,
                                                                               tmp_path):
    pair = write_pair(tmp_path, "soon-signing", *certificate(-300, 10))
    path = operator_config(**{"saml.signing": pair})
    result = run_cli("check-config", str(path))
    assert result.returncode == 0, result.stderr
    [line] = problem_lines(result)
    assert line.startswith(f"{path}: saml.signing.cert: warning: certificate expires in ")
    assert "1 warning" in result.stdout


def test_an_http_redirect_uri_for_another_host_is_refused(operator_config):
    path = operator_config(**{"clients": [{
        "client_id": "app", "council": "test-borough", "client_secret": "s",
        "redirect_uris": ["https://app.example.gov.uk/cb", "http://app.example.gov.uk/cb"]}]})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    assert problem_lines(result) == [
        f"{path}: clients[0].redirect_uris[1]: must be https (http only for localhost and "
        "127.0.0.1), got 'http://app.example.gov.uk/cb'"]


def test_http_redirect_uris_on_localhost_are_allowed(operator_config):
    path = operator_config(**{"clients": [{
        "client_id": "app", "council": "test-borough", "client_secret": "s",
        "redirect_uris": ["http://localhost:9999/cb", "http://127.0.0.1:9999/cb"]}]})
    assert run_cli("check-config", str(path)).returncode == 0


def test_hub_metadata_signed_by_another_key_is_refused(operator_config, keys, tmp_path):
    metadata = tmp_path / "forged.xml"
    metadata.write_text(signed_hub_metadata(keys, signer="hub-signing"))
    result = run_cli("check-config", str(operator_config(**{"hub.metadata_file": str(metadata)})))
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert ": hub.metadata_file: hub metadata not usable: certificate " in line
    assert "does not chain to the metadata truststore (hub.truststores.metadata)" in line


def test_hub_metadata_past_its_valid_until_is_refused(operator_config, keys, tmp_path):
    metadata = tmp_path / "stale.xml"
    metadata.write_text(signed_hub_metadata(keys, valid_for=dt.timedelta(hours=-1)))
    result = run_cli("check-config", str(operator_config(**{"hub.metadata_file": str(metadata)})))
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert "hub.metadata_file: hub metadata not usable: metadata validUntil" in line
    assert "has passed" in line


@responses.activate
def test_hub_metadata_from_a_url_is_fetched_and_verified(operator_config, keys):
    url = "https://hub.example.test/SAML2/metadata/federation"
    responses.get(url, body=signed_hub_metadata(keys))
    source, problems = run_checks(str(operator_config(**{"hub.metadata_file": None,
                                                         "hub.metadata_url": url})))
    assert problems == []
    assert len(responses.calls) == 1


@responses.activate
def test_an_unreachable_hub_metadata_url_is_a_problem(operator_config):
    url = "https://hub.example.test/SAML2/metadata/federation"
    responses.get(url, status=503)
    source, problems = run_checks(str(operator_config(**{"hub.metadata_file": None,
                                                         "hub.metadata_url": url})))
    assert [(p.key, p.severity) for p in problems] == [("hub.metadata_url", "error")]
    assert "503" in problems[0].text


def test_an_unreachable_redis_is_a_problem(operator_config):
    path = operator_config(**{"redis.url": "redis://127.0.0.1:1/0"})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert line.startswith(f"{path}: redis.url: Redis not reachable at redis://127.0.0.1:1/0")


def test_the_database_is_not_checked_when_no_council_matches(operator_config):
    path = operator_config(**{"database": {"url": "postgresql://nobody@127.0.0.1:1/none"}})
    assert run_cli("check-config", str(path)).returncode == 0


def test_an_unreachable_database_is_a_problem_when_a_council_matches(operator_config):
    path = operator_config(**{"database": {"url": "postgresql://nobody@127.0.0.1:1/none"},
                              "councils.test-borough.matching": MATCHING})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert line.startswith(f"{path}: database.url: database not reachable at "
                           "postgresql://nobody@127.0.0.1:1/none")


def test_a_database_without_the_current_schema_says_to_run_db_upgrade(operator_config, tmp_path):
    path = operator_config(**{"database": {"url": f"sqlite:///{tmp_path / 'links.sqlite3'}"},
                              "councils.test-borough.matching": MATCHING})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert line.startswith(f"{path}: database.url: schema is at revision none")
    assert line.endswith("run `broker db upgrade`")
    assert run_cli("db", "upgrade", str(path)).returncode == 0
    assert run_cli("check-config", str(path)).returncode == 0


def test_every_problem_gets_its_own_line_and_no_traceback(operator_config, keys):
    path = operator_config(**{
        "redis.url": "redis://127.0.0.1:1/0",
        "saml.signing": {"key": str(keys / "hub-signing.key"),
                         "cert": str(keys / "broker-saml-signing.crt")},
        "clients": [{"client_id": "app", "council": "test-borough", "client_secret": "s",
                     "redirect_uris": ["http://app.example.gov.uk/cb"]}]})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    keys_named = [line.split(": ")[1] for line in problem_lines(result)]
    assert keys_named == ["saml.signing.key", "clients[0].redirect_uris[0]", "redis.url"]
    assert "Traceback" not in result.stderr


def test_offline_skips_redis_but_still_checks_keys(operator_config, keys):
    path = operator_config(**{"redis.url": "redis://127.0.0.1:1/0"})
    assert run_cli("check-config", "--offline", str(path)).returncode == 0
    path = operator_config(**{"redis.url": "redis://127.0.0.1:1/0", "saml.signing": {
        "key": str(keys / "hub-signing.key"), "cert": str(keys / "broker-saml-signing.crt")}})
    assert run_cli("check-config", "--offline", str(path)).returncode == 2


def test_an_oidc_key_that_does_not_load_is_named(operator_config, tmp_path):
    broken = tmp_path / "broken.jwk.json"
    broken.write_text('{"kty": "EC", "crv": "P-256", "d": "AAAA", "x": "AAAA", "y": "AAAA"}')
    path = operator_config(**{"oidc.signing_key": str(broken)})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    [line] = problem_lines(result)
    assert line.startswith(f"{path}: oidc.signing_key: the JWK does not load: ")


def test_a_council_colour_failing_wcag_aa_contrast_is_refused_in_one_line(operator_config):
    path = operator_config(**{"councils.test-borough.branding": {"colour": "#ffdd00"}})
    result = run_cli("check-config", str(path))
    assert result.returncode == 2
    assert problem_lines(result) == [
        f"{path}: councils.test-borough.branding.colour: #ffdd00 has a contrast ratio of 1.35:1 "
        "with the white text it carries in the header; WCAG 2.2 AA needs at least 4.5:1 "
        "(choose a darker colour)"]


def test_a_hub_metadata_url_nobody_answers_on_is_named_in_plain_words(operator_config):
    url = "http://127.0.0.1:1/SAML2/metadata/federation"
    source, problems = run_checks(str(operator_config(**{"hub.metadata_file": None,
                                                         "hub.metadata_url": url})))
    assert [p.text for p in problems if p.key == "hub.metadata_url"] == [
        "hub metadata not usable: 127.0.0.1:1 refused the connection"]


def test_a_hub_metadata_host_that_does_not_resolve_is_named_in_plain_words(operator_config):
    url = "https://hub.invalid/SAML2/metadata/federation"
    source, problems = run_checks(str(operator_config(**{"hub.metadata_file": None,
                                                         "hub.metadata_url": url})))
    [text] = [p.text for p in problems if p.key == "hub.metadata_url"]
    assert text == "hub metadata not usable: the host name hub.invalid does not resolve"
    assert "Pool" not in text and "SAML Response" not in text


def test_every_missing_or_unreadable_file_is_reported_in_one_run(operator_config, keys, tmp_path):
    path = operator_config(**{
        "saml.signing": {"key": str(keys / "gone-signing.key"),
                         "cert": str(keys / "broker-saml-signing.crt")},
        "saml.encryption": [{"key": str(keys / "broker-saml-encryption.key"),
                             "cert": str(keys / "gone-encryption.crt")}],
        "hub.truststores.idp": str(keys / "gone-idp.pem"),
        "oidc.signing_key": str(keys / "gone.jwk.json"),
        "data_keys": [{"file": str(tmp_path / "no-such-folder" / "data.jwk.json")}],
        "secret_key": None})
    result = run_cli("check-config", "--offline", str(path))
    assert result.returncode == 2
    lines = problem_lines(result)
    named = [line.split(": ")[1] for line in lines]
    assert sorted(named[:5]) == ["data_keys[0].file", "hub.truststores.idp", "oidc.signing_key",
                                 "saml.encryption[0].cert", "saml.signing.key"]
    assert named[5:] == ["secret_key"]  # and the loader's first problem
    assert all(": file not found: " in line for line in lines[:5])
    assert "Traceback" not in result.stderr
    served = run_cli("serve", "--port", "1", str(path))  # refused before it listens
    assert served.returncode == 2
    assert len([line for line in served.stderr.splitlines() if "start refused" in line]) == 6
