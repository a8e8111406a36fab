"""`broker demo`: the broker, the stub hub and the demo council app on one machine.

Keys are generated on first run under var/demo (git-ignored); ports and URLs can be overridden
with BROKER_DEMO_HOST and BROKER_DEMO_{BROKER,HUB,COUNCIL,ONELOGIN,OIDC}_PORT. The upstream is
Verify's stub hub unless BROKER_DEMO_UPSTREAM=one_login, which runs the stub One Login instead, or
BROKER_DEMO_UPSTREAM=oidc, which runs the stub OpenID provider with `verified_claims` (OIDC4IDA).
"""

from __future__ import annotations

import hashlib
import logging
import os
import threading
from pathlib import Path

from werkzeug.serving import make_server

from broker.config import BrokerConfig, ConfigError, load_config
from broker.devtools.council_app.app import CouncilAppConfig, create_council_app
from broker.devtools.keys import ensure_demo_keys
from broker.devtools.stub_hub.app import StubHubConfig, StubIdentityProvider, create_stub_hub
from broker.devtools.stub_onelogin.app import StubOneLoginConfig, create_stub_onelogin
from broker.devtools.stub_openid_ida.app import StubOpenIdIdaConfig, create_stub_openid_ida

DEMO_CLIENT_ID = "demo-council-app"
DEMO_CLIENT_SECRET = "demo-council-secret"
DEMO_COUNCIL = "demo-borough"


def stub_hub_config(broker: BrokerConfig, keys: Path, base_url: str) -> StubHubConfig:
    return StubHubConfig(
        base_url=base_url,
        signing_key_pem=(keys / "hub-signing.key").read_text(),
        signing_cert_pem=(keys / "hub-signing.crt").read_text(),
        other_signing_cert_pem=(keys / "hub-signing-2.crt").read_text(),
        encryption_cert_pem=(keys / "hub-encryption.crt").read_text(),
        federation_key_pem=(keys / "federation-metadata-signing.key").read_text(),
        federation_cert_pem=(keys / "federation-metadata-signing.crt").read_text(),
        identity_providers=tuple(
            StubIdentityProvider(name, (keys / f"{pair}.key").read_text(),
                                 (keys / f"{pair}.crt").read_text())
            for name, pair in (("stub-idp-one", "idp-signing"), ("stub-idp-two", "idp-2-signing"))),
        broker_entity_id=broker.saml.entity_id,
        broker_acs_url=broker.acs_url,
        broker_signing_cert_pem=broker.saml.signing.cert_pem,
        broker_encryption_cert_pem=broker.saml.encryption[0].cert_pem,
        mode=broker.mode,
    )


def stub_one_login_config(broker: BrokerConfig, base_url: str) -> StubOneLoginConfig:
    """The stub One Login, knowing the broker as One Login would: its client id, redirect URI
    and the JWKS URL its private_key_jwt keys are published at."""
    return StubOneLoginConfig(base_url=base_url, client_id=broker.one_login.client_id,
                              redirect_uris=(broker.one_login_redirect_uri,),
                              client_jwks_uri=f"{broker.issuer}/onelogin/jwks.json",
                              mode=broker.mode)


def stub_openid_ida_config(broker: BrokerConfig, base_url: str) -> StubOpenIdIdaConfig:
    """The stub OpenID provider, knowing the broker as its registered client."""
    ida = broker.openid_ida
    return StubOpenIdIdaConfig(
        base_url=base_url, client_id=ida.client_id,
        redirect_uris=(f"{broker.issuer}/openid-ida/callback",),
        client_jwks_uri=f"{broker.issuer}/openid-ida/jwks.json"
        if ida.client_auth == "private_key_jwt" else None,
        client_secret=ida.client_secret if ida.client_auth == "client_secret_basic" else None,
        mode=broker.mode)


def demo_council_look(config: BrokerConfig) -> dict:
    """The demo council app shows its council as the broker does (name, logo, colour)."""
    council = config.councils.get(DEMO_COUNCIL)
    return {"council_name": council.name, "brand": council.brand} if council else {}


def configured_mode(path: str | os.PathLike[str], environ=os.environ) -> str:
    """The mode of a broker configuration, for a stand-in that needs nothing else from it (the
    demo council app): BROKER_MODE, else the file's `mode`."""
    import yaml

    if environ.get("BROKER_MODE"):
        return environ["BROKER_MODE"]
    try:
        with open(path, encoding="utf-8") as handle:
            raw = yaml.safe_load(handle) or {}
    except FileNotFoundError:
        raise ConfigError(str(path), "(file)", "no such file") from None
    except yaml.YAMLError:
        raise ConfigError(str(path), "(file)", "not valid YAML (`broker check-config` says where)"
                          ) from None
    return str(raw.get("mode", "development")) if isinstance(raw, dict) else "development"


def demo_settings(environ=os.environ) -> dict:
    host = environ.get("BROKER_DEMO_HOST", "localhost")
    ports = {name: int(environ.get(f"BROKER_DEMO_{name.upper()}_PORT", default))
             for name, default in (("broker", 8000), ("hub", 8001), ("council", 8002),
                                   ("onelogin", 8003), ("oidc", 8004))}
    # BROKER_DEMO_{BROKER,HUB,COUNCIL}_URL: the public URL when a proxy fronts the service (the
    # docker-compose stack puts all three behind nginx with TLS); each still listens on its port.
    urls = {name: environ.get(f"BROKER_DEMO_{name.upper()}_URL", f"http://{host}:{port}").rstrip("/")
            for name, port in ports.items()}
    return {"host": host, "ports": ports, "urls": urls,
            "keys": Path(environ.get("BROKER_DEMO_KEYS", "var/demo")),
            "config": environ.get("BROKER_CONFIG", "config/demo.yaml")}


def demo_environ(settings: dict, environ=os.environ) -> dict:
    """What config/demo.yaml interpolates: the three URLs as this run serves them."""
    env = dict(environ)
    for name in ("broker", "hub", "council", "onelogin", "oidc"):
        env.setdefault(f"BROKER_DEMO_{name.upper()}_URL", settings["urls"][name])
    if env.get("BROKER_DEMO_UPSTREAM") == "oidc":  # the name for the OIDC4IDA upstream
        env["BROKER_DEMO_UPSTREAM"] = "openid_ida"
    env["BROKER_DEMO_KEYS"] = str(settings["keys"].resolve())
    env["BROKER_DEMO_INSTANCE"] = demo_instance(settings["keys"])
    return env


def demo_instance(keys: Path) -> str:
    """A short name for this demo's key folder, in its Redis key prefix: two checkouts on one
    machine (each with its own demo keys) then never read each other's state."""
    return hashlib.sha256(str(keys.resolve()).encode()).hexdigest()[:10]


def run_demo() -> int:
    from broker.app import create_app

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    settings = demo_settings()
    keys = ensure_demo_keys(settings["keys"])
    config = load_config(settings["config"], demo_environ(settings))
    apps = {
        "broker": create_app(config),
        "hub": create_stub_hub(stub_hub_config(config, keys, settings["urls"]["hub"])),
        "council": create_council_app(CouncilAppConfig(
            base_url=settings["urls"]["council"], broker_issuer=config.issuer,
            client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
            **demo_council_look(config))),
    }
    if config.upstream == "one_login":
        apps["onelogin"] = create_stub_onelogin(stub_one_login_config(
            config, settings["urls"]["onelogin"]))
    if config.upstream == "openid_ida":
        apps["oidc"] = create_stub_openid_ida(stub_openid_ida_config(
            config, settings["urls"]["oidc"]))
    servers = [make_server(settings["host"], settings["ports"][name], app, threaded=True)
               for name, app in apps.items()]
    threads = [threading.Thread(target=s.serve_forever, daemon=True) for s in servers]
    for thread in threads:
        thread.start()
    upstream = {"one_login": f"  stub One Login:    {settings['urls']['onelogin']} (the upstream)\n",
                "openid_ida": f"  stub OpenID IDA:   {settings['urls']['oidc']} (the upstream)\n",
                }.get(config.upstream, "")
    print(f"\n  broker:            {settings['urls']['broker']}\n"
          f"  stub hub:          {settings['urls']['hub']}\n{upstream}"
          f"  demo council app:  {settings['urls']['council']}\n\n"
          f"  Open {settings['urls']['council']} and choose Sign in. Ctrl-C stops them all.\n",
          flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        print("\nstopping the demo")
    finally:
        for server in servers:
            server.shutdown()
    return 0
