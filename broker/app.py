"""The application factory: wires configuration, stores, keys and blueprints. Nothing else."""

from __future__ import annotations

from dataclasses import dataclass

import redis
from flask import Flask
from flask_babel import lazy_gettext as _l

from broker.config import BrokerConfig
from broker.hub.metadata import HubMetadataSource
from broker.hub.saml_schema import verify_protocol_schema
from broker.observability import install_request_tracking
from broker.oidc.clients import ClientRegistry
from broker.oidc.keys import SigningKeys
from broker.oidc.sessions import SessionStore
from broker.state import BrokerState, connect

MAX_CONTENT_LENGTH = 512 * 1024


@dataclass
class Broker:
    """Everything a request handler needs, built once per process."""

    config: BrokerConfig
    state: BrokerState
    clients: ClientRegistry
    signing_keys: SigningKeys
    hub_metadata: HubMetadataSource
    sessions: SessionStore = None
    authorization_server: object = None
    resource_protector: object = None
    matching: object = None  # broker.matching.pipeline.MatchingPipeline
    one_login: object = None  # broker.onelogin.callback.OneLoginClient, with upstream one_login


def create_app(config: BrokerConfig, redis_client: redis.Redis | None = None) -> Flask:
    from broker import ops, signin
    from broker.hub import views as hub_views
    from broker.matching import views as matching_views
    from broker.oidc import server as oidc_server
    from broker.oidc import views as oidc_views
    from broker.onelogin import views as onelogin_views
    from broker.ratelimit import install_rate_limits
    from broker.web.design import init_design
    from broker.web.pages import register_error_pages
    from broker.web.security import install_security

    verify_protocol_schema()  # before any request thread: see broker.hub.saml_schema
    app = Flask(__name__, template_folder="web/templates")
    app.config.update(SECRET_KEY=config.secret_key, MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH,
                      SESSION_COOKIE_NAME="broker_flask", SESSION_COOKIE_HTTPONLY=True)
    if redis_client is None:
        redis_client = connect(config.redis, allow_embedded=not config.production)
    broker = Broker(
        config=config,
        state=BrokerState(redis_client, config.redis.key_prefix),
        clients=ClientRegistry(config.clients),
        signing_keys=SigningKeys(config.oidc.signing_keys),
        hub_metadata=HubMetadataSource(config.hub, BrokerState(redis_client, config.redis.key_prefix)),
    )
    broker.sessions = SessionStore(broker.state, config.oidc.session_idle_seconds,
                                   config.oidc.session_absolute_seconds)
    broker.authorization_server = oidc_server.build_authorization_server(app, broker)
    broker.resource_protector = oidc_server.build_resource_protector(broker)
    broker.matching = build_matching(config)
    broker.one_login = build_one_login(config)
    app.extensions["broker"] = broker

    # The hand-off form posts to the hub's SSO URL, which comes from metadata: form-action *.
    install_security(app, secure_cookies=config.issuer.startswith("https://"), form_action="*")
    init_design(app, service_name=_l("Sign in to your council"), organisation=_l("Council sign-in"),
                language_cookie="broker_lang", ui_locales_endpoints=("signin.authorize",))

    install_request_tracking(app)
    app.register_blueprint(ops.bp)
    app.register_blueprint(oidc_views.bp)
    app.register_blueprint(signin.bp)
    app.register_blueprint(hub_views.bp)
    app.register_blueprint(matching_views.bp)
    app.register_blueprint(onelogin_views.bp)
    register_error_pages(app)
    install_rate_limits(app, config, embedded_store=type(redis_client).__module__.startswith("fakeredis"))
    return app


def build_one_login(config: BrokerConfig):
    """The One Login client when it is the upstream; nothing is fetched until first used."""
    if config.one_login is None:
        return None
    from broker.onelogin.callback import OneLoginClient
    from broker.onelogin.provider import OneLoginProvider

    return OneLoginClient(config.one_login, OneLoginProvider(config.one_login))


def build_matching(config: BrokerConfig):
    """The matching pipeline; the link store's engine only when some council matches."""
    from broker.matching.pipeline import MatchingPipeline

    if not any(council.matching for council in config.councils.values()):
        return MatchingPipeline(links=None)
    from broker.matching.database import make_engine, upgrade
    from broker.matching.links import LinkStore

    engine = make_engine(config.database.url)
    if config.database.auto_upgrade:
        upgrade(engine)  # development and tests; production runs `broker db upgrade`
    return MatchingPipeline(LinkStore(engine))
