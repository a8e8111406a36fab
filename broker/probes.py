"""Endpoints for operators and orchestrators: liveness, readiness and Prometheus metrics."""

from __future__ import annotations

import os

from flask import Blueprint, jsonify
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from broker.context import current_broker
from broker.observability import PresentStateCollector

bp = Blueprint("probes", __name__)


@bp.get("/healthz")
def healthz():
    """The process is alive and answering; says nothing about its dependencies."""
    return jsonify(status="ok")


def readiness(broker) -> dict:
    checks: dict[str, dict] = {}
    checks["redis"] = {"ok": broker.state.ping()}
    links = getattr(broker.matching, "links", None)
    if links is not None:
        try:
            from sqlalchemy import text

            with links.engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            checks["database"] = {"ok": True}
        except Exception as exc:  # any driver error means "not ready", never a 500
            checks["database"] = {"ok": False, "error": type(exc).__name__}
    for upstream in broker.upstreams:
        checks.update(upstream.readiness())
    saml = broker.config.saml  # None beside One Login without a `saml:` section
    checks["keys"] = {"ok": bool(broker.signing_keys.algorithms and (saml is None or saml.encryption)),
                      "oidc_signing_algorithms": broker.signing_keys.algorithms,
                      "saml_encryption_keys": len(saml.encryption) if saml else 0}
    return {"ready": all(check["ok"] for check in checks.values()), "checks": checks}


@bp.get("/readyz")
def readyz():
    """Ready to sign residents in: Redis, database, each upstream (fresh metadata) and keys."""
    report = readiness(current_broker())
    response = jsonify(report)
    response.status_code = 200 if report["ready"] else 503
    response.headers["Cache-Control"] = "no-store"
    return response


@bp.get("/metrics")
def metrics():
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        registry = CollectorRegistry()
        multiprocess.MultiProcessCollector(registry)
    else:
        registry = REGISTRY
    present = CollectorRegistry()
    present.register(PresentStateCollector(current_broker()))
    body = generate_latest(registry) + generate_latest(present)
    return body, 200, {"Content-Type": CONTENT_TYPE_LATEST, "Cache-Control": "no-store"}
