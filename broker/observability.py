"""Metrics, structured logs, request ids and audit events.

Metrics are Prometheus counters and histograms that stay correct under several gunicorn workers
(`broker serve` sets PROMETHEUS_MULTIPROC_DIR before any worker starts); values that describe the
present (metadata age, days until a certificate expires) are computed when /metrics is scraped.
Log lines are JSON with a request id and a flow id, and never carry personal data: code logs
flow ids truncated to 8 characters, client and council ids, outcomes and reasons, nothing else.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import sys
import time
from datetime import UTC, datetime
from typing import Any

from cryptography import x509
from flask import Flask, g, has_request_context, request
from prometheus_client import Counter, Histogram

SIGNINS_STARTED = Counter("broker_signins_started_total",
                          "Sign-ins sent to an upstream (or answered from a broker session)", ["council"])
SIGNINS_COMPLETED = Counter("broker_signins_completed_total",
                            "Sign-ins that ended with a code for the council app", ["council", "level"])
SIGNINS_FAILED = Counter("broker_signins_failed_total",
                         "Sign-ins that ended on a failure page, by reason", ["council", "reason"])
UPSTREAM_ANSWERS = Counter("broker_upstream_answers_total",
                           "Answers from the upstream identity services, by upstream and outcome",
                           ["upstream", "outcome"])
MATCHING_OUTCOMES = Counter("broker_matching_outcomes_total",
                            "Matching results per council and cycle", ["council", "cycle", "outcome"])
REQUEST_LATENCY = Histogram(
    "broker_request_duration_seconds", "Time to answer a request, per endpoint",
    ["endpoint", "method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
REDIS_ERRORS = Counter("broker_redis_errors_total", "Redis commands that failed")
REDIS_ROUND_TRIPS = Counter("broker_redis_round_trips_total",
                            "Writes to Redis: one per command, or one per pipeline")
SEALED_VALUES_REFUSED = Counter(
    "broker_sealed_values_refused_total",
    "Values read from Redis that could not be opened (unknown data key, tampered, moved), by kind",
    ["kind"])

REQUEST_ID_HEADER = "X-Request-ID"
_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")
audit_log = logging.getLogger("broker.audit")

_STANDARD_ATTRIBUTES = set(vars(logging.LogRecord("", 0, "", 0, "", (), None))) | {
    "message", "asctime", "taskName"}


def audit(event: str, **fields: Any) -> None:
    """An audit event: who did what to which council, never personal data."""
    audit_log.info(event, extra={"event": event, **fields})


class JsonFormatter(logging.Formatter):
    """One JSON object per line. Every sign-in step writes a few, so the per-line work is kept
    small: one JSON encoder for the process (`json.dumps` with an option builds a new one per
    call) and the timestamp's date and time formatted once per second."""

    _encoder = json.JSONEncoder(default=str)
    _second: tuple[int, str] = (-1, "")

    def _time(self, created: float) -> str:
        """`datetime.fromtimestamp(created, UTC).isoformat(timespec="milliseconds")`."""
        second = int(created)
        micros = round((created - second) * 1_000_000)
        if micros >= 1_000_000:
            second, micros = second + 1, micros - 1_000_000
        cached_second, prefix = self._second
        if cached_second != second:
            prefix = datetime.fromtimestamp(second, UTC).strftime("%Y-%m-%dT%H:%M:%S")
            self._second = (second, prefix)
        return f"{prefix}.{micros // 1000:03d}+00:00"

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": self._time(record.created),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
        }
        if has_request_context():
            entry["request_id"] = g.get("request_id")
            if g.get("flow_id"):
                entry["flow_id"] = g.get("flow_id")
        for key, value in vars(record).items():
            if key not in _STANDARD_ATTRIBUTES and not key.startswith("_"):
                entry[key if key not in entry else f"extra_{key}"] = value
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return self._encoder.encode(entry)


def configure_logging(level: str = "INFO") -> None:
    """JSON lines on standard error, for the process that serves the broker."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level)


def set_flow(flow_id: str) -> None:
    g.flow_id = flow_id[:8]


def install_request_tracking(app: Flask) -> None:
    """Request ids (from a trusted proxy's X-Request-ID, or new), latency per endpoint."""

    @app.before_request
    def start():
        supplied = request.headers.get(REQUEST_ID_HEADER, "")
        g.request_id = supplied if _REQUEST_ID.match(supplied) else secrets.token_hex(8)
        g.request_started = time.perf_counter()

    @app.after_request
    def finish(response):
        response.headers[REQUEST_ID_HEADER] = g.get("request_id", "")
        started = g.get("request_started")
        if started is not None:
            endpoint = request.url_rule.rule if request.url_rule else "unmatched"
            REQUEST_LATENCY.labels(endpoint, request.method).observe(time.perf_counter() - started)
        return response


def certificate_days_left(pem: str) -> float:
    cert = x509.load_pem_x509_certificate(pem.encode())
    return (cert.not_valid_after_utc - datetime.now(UTC)).total_seconds() / 86400


class PresentStateCollector:
    """Gauges read at scrape time from this process's view of the broker."""

    def __init__(self, broker):
        self.broker = broker

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        state_up = self.broker.state.ping()
        store = GaugeMetricFamily("broker_state_store_up",
                                  "1 when the state store (Redis) answers this process")
        store.add_metric([], 1.0 if state_up else 0.0)
        yield store
        for upstream in self.broker.upstreams:
            yield from upstream.present_metrics()
        expiry = GaugeMetricFamily("broker_certificate_expiry_days",
                                   "Days until each configured certificate expires", labels=["certificate"])
        saml, hub = self.broker.config.saml, self.broker.config.hub
        if saml is not None:
            expiry.add_metric(["saml-signing"], certificate_days_left(saml.signing.cert_pem))
            for index, pair in enumerate(saml.encryption):
                expiry.add_metric([f"saml-encryption-{index}"], certificate_days_left(pair.cert_pem))
        if hub is not None:
            expiry.add_metric(["hub-trust-anchor"], certificate_days_left(hub.metadata_truststore_pem))
        yield expiry
