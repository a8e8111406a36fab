"""`broker serve`: the broker under gunicorn, configured for a sign-in service.

Workers are processes (the broker keeps no state in memory that another worker needs); the
configuration is loaded and validated once in the master before forking, so a bad file stops
start-up with exit status 2 instead of a crash loop of workers.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from gunicorn.app.base import BaseApplication

from broker.config import BrokerConfig


class BrokerServer(BaseApplication):
    def __init__(self, config: BrokerConfig, options: dict):
        self.config_object = config
        self.options = options
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if value is not None and key in self.cfg.settings:
                self.cfg.set(key, value)

    def load(self):
        from broker.app import create_app

        return create_app(self.config_object)


def gunicorn_options(bind: str, workers: int, timeout: int = 30) -> dict:
    return {
        "bind": bind,
        "workers": workers,
        "worker_class": "gthread",
        # Two threads: one can wait on a council's matching service while the other works;
        # more cost CPU in switching between threads (docs/operations.md).
        "threads": int(os.environ.get("BROKER_THREADS", "2")),
        # A hung request (a stuck hub or council service) must not hold a worker for ever.
        "timeout": timeout,
        # On SIGTERM, in-flight sign-ins get this long to finish.
        "graceful_timeout": int(os.environ.get("BROKER_GRACEFUL_TIMEOUT", "30")),
        "keepalive": 5,
        "limit_request_line": 8190,
        "limit_request_fields": 100,
        "forwarded_allow_ips": os.environ.get("FORWARDED_ALLOW_IPS", "127.0.0.1"),
        "accesslog": None,
        "errorlog": "-",
        "preload_app": False,
        # Gunicorn's control socket defaults to one path per user, which two broker instances on
        # one host would share; the broker is operated through its CLI and signals instead.
        "control_socket_disable": True,
    }


def prepare_metrics_directory() -> str:
    """Every worker writes its metrics here; /metrics adds them up (prometheus-client's
    multiprocess mode). Must be set before any worker imports prometheus_client."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        directory = tempfile.mkdtemp(prefix="broker-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = directory
    for leftover in Path(directory).glob("*.db"):
        leftover.unlink()
    return directory


def child_exit(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


def serve(config: BrokerConfig, bind: str, workers: int) -> None:
    from broker.observability import configure_logging

    prepare_metrics_directory()
    configure_logging(os.environ.get("BROKER_LOG_LEVEL", "INFO"))
    options = gunicorn_options(bind, workers)
    options["child_exit"] = child_exit
    BrokerServer(config, options).run()
