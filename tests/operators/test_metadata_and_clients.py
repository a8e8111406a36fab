"""`broker metadata status|refresh` (the hub as every broker process sees it) and
`broker clients list|show` (registration read back from the configuration)."""

from __future__ import annotations

from tests.operators.conftest import HUB_ENTITY_ID, HUB_SSO_URL, run_cli, signed_hub_metadata


def test_refresh_fetches_verifies_and_shows_the_hubs_details(operator_config):
    result = run_cli("metadata", "refresh", str(operator_config()))
    assert result.returncode == 0, result.stderr
    assert f"hub entityID:    {HUB_ENTITY_ID}" in result.stdout
    assert f"SSO endpoint:    {HUB_SSO_URL} (HTTP-POST)" in result.stdout
    assert "signing cert 1:" in result.stdout and "expires " in result.stdout
    assert "validUntil:      20" in result.stdout
    assert "last outcome:    ok" in result.stdout


def test_status_shows_the_copy_a_refresh_shared_with_every_process(operator_config):
    path = operator_config()
    run_cli("metadata", "refresh", str(path))
    result = run_cli("metadata", "status", str(path))
    assert result.returncode == 0, result.stderr
    assert f"hub entityID:    {HUB_ENTITY_ID}" in result.stdout
    assert "last refresh:    20" in result.stdout
    assert "usable:          yes" in result.stdout


def test_status_before_any_refresh_says_there_is_no_trusted_copy(operator_config):
    result = run_cli("metadata", "status", str(operator_config()))
    assert result.returncode == 2
    assert "(no trusted metadata in the shared store)" in result.stdout
    assert "last refresh:    never" in result.stdout


def test_a_failed_refresh_is_one_line_and_status_keeps_the_last_good_copy(operator_config, keys,
                                                                          tmp_path):
    path = operator_config()
    run_cli("metadata", "refresh", str(path))
    (tmp_path / "hub-metadata.xml").write_text(signed_hub_metadata(keys, signer="hub-signing"))
    result = run_cli("metadata", "refresh", str(path))
    assert result.returncode == 2
    [line] = result.stderr.strip().splitlines()
    assert line.startswith(f"broker: {path}: hub.metadata_file: refresh failed (the last good copy "
                           "stays in use): certificate ")
    status = run_cli("metadata", "status", str(path))
    assert f"hub entityID:    {HUB_ENTITY_ID}" in status.stdout
    assert "last outcome:    failed at " in status.stdout


def test_clients_list_shows_one_line_per_client(operator_config):
    path = operator_config(clients=[
        {"client_id": "housing", "council": "test-borough", "client_secret": "s",
         "redirect_uris": ["https://housing.example.gov.uk/cb"]},
        {"client_id": "parking", "council": "test-borough", "client_secret": "t",
         "redirect_uris": ["https://parking.example.gov.uk/cb"]}])
    result = run_cli("clients", "list", str(path))
    assert result.returncode == 0, result.stderr
    rows = result.stdout.splitlines()[1:]
    assert [row.split()[0] for row in rows] == ["housing", "parking"]
    assert "https://parking.example.gov.uk/cb" in rows[1]


def test_clients_show_gives_every_setting_but_never_the_secret(operator_config):
    path = operator_config(clients=[
        {"client_id": "housing", "council": "test-borough", "client_secret": "very-secret-value",
         "redirect_uris": ["https://housing.example.gov.uk/cb"], "scopes": ["openid", "address"]}])
    result = run_cli("clients", "show", "housing", str(path))
    assert result.returncode == 0, result.stderr
    assert "very-secret-value" not in result.stdout + result.stderr
    assert "client_secret set (not shown)" in result.stdout
    assert "redirect_uris:" in result.stdout and "https://housing.example.gov.uk/cb" in result.stdout
    assert "scopes:                         openid address" in result.stdout
    assert "subjects pairwise to https://test-borough.example.gov.uk" in result.stdout


def test_clients_show_for_an_unknown_client_is_one_line(operator_config):
    path = operator_config()
    result = run_cli("clients", "show", "nobody", str(path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"broker: {path}: clients: no client with client_id 'nobody'"]
