"""The application factory: wires configuration, stores, keys and blueprints. Nothing else."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import redis
from flask import Flask
from flask_babel import lazy_gettext as _l

from broker.config import BrokerConfig
from broker.hub.saml_schema import verify_protocol_schema
from broker.matching.pipeline import MatchingPipeline
from broker.observability import install_request_tracking
from broker.oidc.clients import ClientRegistry
from broker.oidc.keys import SigningKeys
from broker.oidc.server import BrokerAuthorizationServer, BrokerResourceProtector
from broker.oidc.sessions import SessionStore
from broker.sealing import Sealer
from broker.state import BrokerState, connect
from broker.upstreams.registry import Upstreams, build_upstreams

log = logging.getLogger(__name__)

MAX_CONTENT_LENGTH = 512 * 1024


@dataclass
class Broker:
    """Everything a request handler needs, built once per process (`broker.context`).

    The OAuth server and resource protector are built from the broker itself, so they are set
    right after it in `create_app`, before any request."""

    config: BrokerConfig
    state: BrokerState
    clients: ClientRegistry
    signing_keys: SigningKeys
    sessions: SessionStore
    matching: MatchingPipeline
    upstreams: Upstreams  # each council's identity service (broker.upstreams)
    authorization_server: BrokerAuthorizationServer = field(init=False)
    resource_protector: BrokerResourceProtector = field(init=False)


def create_app(config: BrokerConfig, redis_client: redis.Redis | None = None) -> Flask:
    from broker import journey, probes
    from broker.matching import views as matching_views
    from broker.oidc import server as oidc_server
    from broker.oidc import views as oidc_views
    from broker.ratelimit import install_rate_limits
    from broker.web.brand_pages import REMEMBERED_COUNCIL_MAX_AGE, BrandBook
    from broker.web.cookies import (
        BINDING,
        COUNCIL,
        LANGUAGE,
        SESSION,
        NoFlaskSession,
        cookies_of,
    )
    from broker.web.design import LANGUAGE_COOKIE_MAX_AGE, init_design
    from broker.web.pages import (
        COOKIE_PURPOSES,
        BrokerCookie,
        install_cookies_page,
        register_error_pages,
        render_page,
    )
    from broker.web.security import install_security

    verify_protocol_schema()  # before any request thread: see broker.hub.saml_schema
    app = Flask(__name__, template_folder="web/templates")
    app.config.update(SECRET_KEY=config.secret_key, MAX_CONTENT_LENGTH=MAX_CONTENT_LENGTH)
    app.session_interface = NoFlaskSession()
    if redis_client is None:
        redis_client = connect(config.redis, allow_embedded=not config.production)
    state = BrokerState(redis_client, config.redis.key_prefix, data_sealer(config))
    broker = Broker(
        config=config,
        state=state,
        clients=ClientRegistry(config.clients),
        signing_keys=SigningKeys(config.oidc.signing_keys),
        sessions=SessionStore(state, config.oidc.session_idle_seconds,
                              config.oidc.session_absolute_seconds,
                              grants_ttl_seconds=config.oidc.code_ttl_seconds
                              + config.oidc.access_token_ttl_seconds),
        matching=build_matching(config),
        upstreams=build_upstreams(config, state),
    )
    broker.authorization_server = oidc_server.build_authorization_server(app, broker)
    broker.resource_protector = oidc_server.build_resource_protector(broker)
    app.extensions["broker"] = broker

    # The hand-off form posts to the hub's SSO URL, which comes from metadata: form-action *.
    install_security(app, secure_cookies=config.issuer.startswith("https://"), form_action="*")
    brands = BrandBook(config.branding, {c.id: c.brand for c in config.councils.values()},
                       remembered_council_cookie=COUNCIL)
    init_design(app, service_name=_l("Sign in to your council"), organisation=_l("Council sign-in"),
                language_cookie=LANGUAGE, ui_locales_endpoints=("signin.authorize",),
                home_url=None, brands=brands)

    install_request_tracking(app)
    app.register_blueprint(probes.bp)
    app.register_blueprint(oidc_views.bp)
    app.register_blueprint(journey.bp)
    matching_views.install(app, journey.matching_journey)
    for upstream in broker.upstreams:
        upstream.register(app, journey.upstream_journey)
    register_error_pages(app)
    jar = cookies_of(app)  # the names as browsers see them (`__Host-` over https)
    install_cookies_page(app, [
        BrokerCookie(jar.name(SESSION), COOKIE_PURPOSES["session"],
                     config.oidc.session_absolute_seconds),
        BrokerCookie(jar.name(BINDING), COOKIE_PURPOSES["binding"], None),
        BrokerCookie(jar.name(LANGUAGE), COOKIE_PURPOSES["language"], LANGUAGE_COOKIE_MAX_AGE),
        BrokerCookie(jar.name(COUNCIL), COOKIE_PURPOSES["council"], REMEMBERED_COUNCIL_MAX_AGE),
    ])
    install_rate_limits(app, config, embedded_store=type(redis_client).__module__.startswith("fakeredis"),
                        resident_page=render_page)
    return app


def data_sealer(config: BrokerConfig) -> Sealer:
    """The configured data keys; in development without any, one for this process only."""
    sealer = config.sealer()
    if sealer is None:  # production refuses to load without data_keys
        log.warning("no data_keys configured: personal data in Redis is sealed with a key that "
                    "lasts as long as this process (development only; several processes or a "
                    "restart cannot read each other's sign-ins)")
        sealer = Sealer.ephemeral()
    return sealer


def build_matching(config: BrokerConfig) -> MatchingPipeline:
    """The matching pipeline; the link store's engine only when some council matches."""
    if not any(council.matching for council in config.councils.values()):
        return MatchingPipeline(links=None)
    from broker.matching.database import make_engine, upgrade
    from broker.matching.links import LinkStore

    engine = make_engine(config.database.url)
    if config.database.auto_upgrade:
        upgrade(engine)  # development and tests; production runs `broker db upgrade`
    return MatchingPipeline(LinkStore(engine))
