"""The docker-compose stack, checked without Docker: the URLs the browser and the services use are
the ones nginx serves, both broker instances share one configuration, the TLS material is made at
start and never committed, and the image is multi-stage, non-root and health-checked."""

from __future__ import annotations

import re
import subprocess
import sys
from urllib.parse import urlparse

import pytest
import yaml
from cryptography import x509

from broker.config import load_config
from broker.devtools.demo import demo_settings
from tests.operators.conftest import ROOT, run_cli

COMPOSE = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
SERVICES = COMPOSE["services"]
NGINX = (ROOT / "deploy" / "nginx" / "broker.conf").read_text()
STACK_CONFIG = ROOT / "deploy" / "compose" / "broker.yaml"


def nginx_tls_names() -> set[str]:
    names = set()
    for block in re.findall(r"server \{(.*?)\n\}", NGINX, re.S):
        if "listen 8443 ssl" in block:
            names |= set(re.search(r"server_name ([^;]+);", block).group(1).split())
    return names


@pytest.fixture
def stack_environ(keys_dir) -> dict[str, str]:
    environment = dict(SERVICES["broker-1"]["environment"])
    environment["BROKER_KEYS"] = str(keys_dir)
    return environment


def test_two_broker_instances_run_the_same_command_with_the_same_configuration():
    one, two = SERVICES["broker-1"], SERVICES["broker-2"]
    assert one["command"] == two["command"] == ["broker", "serve", "--host", "0.0.0.0",
                                                "--port", "8000"]
    assert one["environment"] == two["environment"]
    assert one["volumes"] == two["volumes"]


def test_nginx_balances_over_both_broker_instances():
    upstream = re.search(r"upstream broker \{(.*?)\}", NGINX, re.S).group(1)
    assert re.findall(r"server (\S+):8000", upstream) == ["broker-1", "broker-2"]
    assert "sticky" not in upstream and "ip_hash" not in upstream  # state is in Redis (ADR 0001)


def test_nginx_never_replays_a_request_that_reached_a_broker():
    assert "proxy_next_upstream  error timeout;" in NGINX
    assert "non_idempotent" not in NGINX


def test_every_public_name_is_an_nginx_alias_inside_the_network():
    aliases = set(SERVICES["nginx"]["networks"]["stack"]["aliases"])
    assert aliases == nginx_tls_names() == {"signin.localhost", "hub.localhost", "council.localhost"}


def test_nginx_publishes_the_same_port_it_listens_on_so_urls_match_inside_and_out():
    assert "8443:8443" in SERVICES["nginx"]["ports"]


def test_every_url_in_the_stack_configuration_is_https_through_nginx(stack_environ):
    config = load_config(STACK_CONFIG, stack_environ)
    urls = [config.issuer, config.saml.entity_id, config.hub.metadata_url,
            config.councils["demo-borough"].matching.service_url,
            *config.clients["demo-council-app"].redirect_uris]
    for url in urls:
        parsed = urlparse(url)
        assert parsed.scheme == "https" and parsed.port == 8443, url
        assert parsed.hostname in nginx_tls_names(), url
    assert config.issuer == SERVICES["council-app"]["environment"]["BROKER_DEMO_BROKER_URL"]


def test_the_stack_configuration_is_production_with_redis_and_postgresql(stack_environ):
    config = load_config(STACK_CONFIG, stack_environ)
    assert config.production and not config.redis.embedded_fallback
    assert config.redis.url == "redis://redis:6379/0"
    assert config.database.url.startswith("postgresql://broker:")
    assert "@postgres:5432/broker" in config.database.url
    assert not config.database.auto_upgrade
    assert SERVICES["migrate"]["command"] == ["broker", "db", "upgrade"]
    assert SERVICES["broker-1"]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}


def test_the_stack_configuration_passes_check_config(stack_environ):
    result = run_cli("check-config", "--offline", str(STACK_CONFIG), env=stack_environ)
    assert result.returncode == 0, result.stderr


def test_demo_services_follow_the_public_urls_they_are_given():
    settings = demo_settings({"BROKER_DEMO_HUB_URL": "https://hub.localhost:8443/"})
    assert settings["urls"]["hub"] == "https://hub.localhost:8443"
    assert settings["ports"]["hub"] == 8001
    assert settings["urls"]["council"] == "http://localhost:8002"


def test_the_tls_script_makes_a_certificate_for_every_name_signed_by_its_own_ca(tmp_path):
    names = ["signin.localhost", "hub.localhost", "council.localhost"]
    result = subprocess.run([sys.executable, str(ROOT / "deploy" / "make_tls.py"), str(tmp_path),
                             *names], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    server, ca = x509.load_pem_x509_certificates((tmp_path / "server.crt").read_bytes())
    assert set(server.extensions.get_extension_for_class(x509.SubjectAlternativeName)
               .value.get_values_for_type(x509.DNSName)) == set(names)
    server.verify_directly_issued_by(x509.load_pem_x509_certificate((tmp_path / "ca.crt").read_bytes()))
    assert ca.subject == server.issuer
    assert (tmp_path / "server.key").stat().st_mode & 0o777 == 0o600
    assert not list(tmp_path.glob("ca.key"))


def test_the_tls_script_keeps_a_certificate_that_is_still_good(tmp_path):
    script = [sys.executable, str(ROOT / "deploy" / "make_tls.py"), str(tmp_path), "signin.localhost"]
    subprocess.run(script, check=True, capture_output=True, timeout=60)
    first = (tmp_path / "server.crt").read_bytes()
    again = subprocess.run(script, check=True, capture_output=True, text=True, timeout=60)
    assert "keeping the certificate" in again.stdout
    assert (tmp_path / "server.crt").read_bytes() == first


def test_the_tls_material_is_made_at_start_and_shared_with_nginx_and_the_services():
    tls = SERVICES["tls"]
    assert tls["command"][:2] == ["python", "/opt/deploy/make_tls.py"]
    assert set(tls["command"][3:]) == nginx_tls_names()
    assert "tls:/etc/nginx/tls:ro" in SERVICES["nginx"]["volumes"]
    assert SERVICES["broker-1"]["environment"]["REQUESTS_CA_BUNDLE"] == "/app/var/tls/ca.crt"
    assert "ssl_certificate     /etc/nginx/tls/server.crt;" in NGINX


def test_no_key_or_certificate_is_committed():
    tracked = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True,
                             check=True).stdout.split()
    assert [f for f in tracked if f.endswith((".key", ".pem", ".crt", ".p12"))] == []


def test_the_image_is_multi_stage_non_root_health_checked_and_carries_the_frontend():
    dockerfile = (ROOT / "Dockerfile").read_text()
    stages = re.findall(r"^FROM (\S+)(?: AS (\S+))?", dockerfile, re.M)
    assert len(stages) >= 3 and stages[-1][1] == ""
    assert re.search(r"^USER broker$", dockerfile, re.M)
    assert "useradd --create-home --uid 10001 broker" in dockerfile
    assert re.search(r"^HEALTHCHECK .*127\.0\.0\.1:8000/healthz", dockerfile, re.M)
    assert "BROKER_GOVUK_FRONTEND=/app/govuk-frontend" in dockerfile
    assert "pybabel compile -d broker/web/translations" in dockerfile
    assert "RUN node scripts/build-assets.mjs broker/web/static" in dockerfile
    assert "COPY --from=assets /src/broker/web/static ./broker/web/static" in dockerfile
    assert (ROOT / "package-lock.json").exists() and (ROOT / "babel.cfg").exists()


def test_one_shot_services_do_not_inherit_the_brokers_health_check():
    for name in ("keys", "tls", "migrate"):
        assert SERVICES[name]["healthcheck"] == {"disable": True}
    for name, port in (("stub-hub", 8001), ("council-app", 8002)):
        assert f"127.0.0.1:{port}" in " ".join(SERVICES[name]["healthcheck"]["test"])


def test_the_stack_configuration_is_copied_once_and_only_admin_may_edit_it():
    assert "cp -n /opt/deploy/compose/broker.yaml /app/var/config/broker.yaml" in " ".join(
        SERVICES["keys"]["command"])
    assert SERVICES["broker-1"]["environment"]["BROKER_CONFIG"] == "/app/var/config/broker.yaml"
    assert "config:/app/var/config:ro" in SERVICES["broker-1"]["volumes"]
    admin = SERVICES["admin"]
    assert admin["profiles"] == ["tools"]  # not started by `docker compose up`
    assert "config:/app/var/config" in admin["volumes"]
    assert "demo-keys:/app/var/demo" in admin["volumes"]


def test_the_brokers_trust_exactly_the_one_proxy_in_front_of_them(stack_environ):
    assert load_config(STACK_CONFIG, stack_environ).proxy_trusted_hops == 1
    assert "proxy_set_header X-Forwarded-For   $proxy_add_x_forwarded_for;" in NGINX


def test_the_demo_app_may_return_to_its_home_page_after_signing_out(stack_environ):
    client = load_config(STACK_CONFIG, stack_environ).clients["demo-council-app"]
    assert client.post_logout_redirect_uris == ("https://council.localhost:8443/",)


def test_nginx_serves_the_fingerprinted_assets_precompressed_from_its_own_disk():
    """The edge stage puts the build where nginx's root is; its location takes exactly the
    fingerprinted files (not the build's manifest.json, nor GOV.UK's one the stub hub links)."""
    from broker.web.assets import built_assets

    dockerfile = (ROOT / "Dockerfile").read_text()
    assert SERVICES["nginx"]["build"] == {"context": ".", "target": "edge"}
    assert re.search(r"^FROM nginx:\S+ AS edge$", dockerfile, re.M)
    assert "COPY --from=assets /src/broker/web/static /usr/share/nginx/broker/assets" in dockerfile
    block = re.search(r'location ~ "([^"]+)" \{(.*?)\}', NGINX, re.S)
    pattern, body = re.compile(block.group(1)), block.group(2)
    assert "root        /usr/share/nginx/broker;" in body
    assert "gzip_static on;" in body and "gzip_vary   on;" in body
    assert 'add_header  Cache-Control "public, max-age=31536000, immutable";' in body
    assert "try_files   $uri @broker;" in body and "location @broker {" in NGINX
    assets = built_assets()
    assert all(pattern.match(assets.url(name)) for name in assets.files)
    assert not pattern.match("/assets/manifest.json")
    assert not pattern.match("/assets/councils.min.css")
