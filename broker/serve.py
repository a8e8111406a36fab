"""`broker serve`: the broker under gunicorn, configured for a sign-in service.

Workers are processes (the broker keeps no state in memory that another worker needs); the
configuration is loaded and checked once in the master before forking (the same checks as
`broker check-config --offline`), so a bad file stops start-up with exit status 2 instead of a
crash loop of workers. SIGHUP re-reads and re-checks the file: a good one replaces the workers, a
bad one is refused with a log line and the running workers keep the old configuration.

This module must not import prometheus_client (nor broker.observability) at import time:
prometheus-client chooses between its single-process and multiprocess value stores when it is
first imported, so PROMETHEUS_MULTIPROC_DIR is set first (prepare_metrics_directory).
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from gunicorn.app.base import BaseApplication
from gunicorn.glogging import Logger

from broker.config import BrokerConfig

log = logging.getLogger(__name__)


class JsonGunicornLogger(Logger):
    """Gunicorn's own lines (start, boot, signals, worker timeouts, shutdown) as the broker's
    JSON lines, so a log collector reads one format."""

    def setup(self, cfg):
        super().setup(cfg)
        from broker.observability import JsonFormatter

        for logger in (self.error_log, self.access_log):
            for handler in logger.handlers:
                handler.setFormatter(JsonFormatter())


class BrokerServer(BaseApplication):
    def __init__(self, config: BrokerConfig, options: dict,
                 reread: Callable[[], BrokerConfig] | None = None):
        self.config_object = config
        self.options = options
        self.reread = reread
        super().__init__()

    def load_config(self):
        for key, value in self.options.items():
            if value is not None and key in self.cfg.settings:
                self.cfg.set(key, value)

    def reload(self):
        """SIGHUP: the new workers get the re-read file if it passes every start-up check;
        otherwise they keep the configuration in use, and one log line says why. Nothing that
        goes wrong here may reach gunicorn's main loop: an exception there stops the master."""
        if self.reread is not None:
            try:
                self.config_object = self.reread()
            except Exception as exc:  # noqa: BLE001 - the master must outlive any bad file
                problems = exc.lines if isinstance(exc, StartupRefused) else [
                    f"{self.config_object.source}: (file): {type(exc).__name__}: {exc}"]
                log.error("reload refused, the workers keep the configuration they were started "
                          "with: %s", "; ".join(problems),
                          extra={"event": "config.reload-refused", "problems": problems})
            else:
                log.info("reload: configuration %s re-read and checked",
                         self.config_object.source, extra={"event": "config.reloaded"})
        super().reload()

    def load(self):
        from broker.app import create_app

        try:
            return create_app(self.config_object)
        except Exception:
            # Logged here as a JSON line; gunicorn would add a plain-text line of its own. The
            # exit status is gunicorn's "worker failed to boot", which stops the master.
            log.exception("a worker could not start the broker", extra={"event": "worker.boot-failed"})
            raise SystemExit(3) from None


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
        "logger_class": JsonGunicornLogger,
        "loglevel": os.environ.get("BROKER_LOG_LEVEL", "INFO").lower(),
        "preload_app": False,
        # Gunicorn's control socket defaults to one path per user, which two broker instances on
        # one host would share; the broker is operated through its CLI and signals instead.
        "control_socket_disable": True,
    }


class MetricsDirectory:
    """Every worker writes its metrics here; /metrics adds them up (prometheus-client's
    multiprocess mode). A folder the broker made is removed when the master stops; one the
    operator named (PROMETHEUS_MULTIPROC_DIR) is only emptied at start."""

    def __init__(self, environ=os.environ):
        self.path = environ.get("PROMETHEUS_MULTIPROC_DIR")
        self.owned = not self.path
        if self.owned:
            self.path = tempfile.mkdtemp(prefix="broker-metrics-")
            environ["PROMETHEUS_MULTIPROC_DIR"] = self.path
        for leftover in Path(self.path).glob("*.db"):
            leftover.unlink()
        self.master_pid = os.getpid()

    def remove(self) -> None:
        # Workers are forked from the master and unwind through the same code on exit.
        if self.owned and os.getpid() == self.master_pid:
            shutil.rmtree(self.path, ignore_errors=True)


def prepare_metrics_directory() -> MetricsDirectory:
    return MetricsDirectory()


def child_exit(_server, worker) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(worker.pid)


class StartupRefused(Exception):
    """The configuration fails a check that `broker check-config --offline` would fail."""

    def __init__(self, lines: list[str]):
        super().__init__("\n".join(lines))
        self.lines = lines


def checked_config(path: str | None) -> BrokerConfig:
    """Loads the file and runs check-config's offline checks on it; warnings are logged."""
    from broker.config import ConfigError
    from broker.operations.checks import ConfigProblems, startup_problems

    try:
        config, source, problems = startup_problems(path)
    except ConfigProblems as exc:
        raise StartupRefused(exc.lines()) from None
    except ConfigError as exc:
        raise StartupRefused([str(exc)]) from None
    errors = [p.line(source) for p in problems if p.severity == "error"]
    if errors:
        raise StartupRefused(errors)
    for problem in problems:
        log.warning("%s", problem.line(source), extra={"event": "config.warning"})
    return config


def upgrade_link_store(config: BrokerConfig) -> None:
    """With `database.auto_upgrade`, the migrations run once here, before any worker starts, so
    that the workers find the schema current instead of all creating it at once. A database
    that is not reachable yet does not stop the start: each worker tries again (one at a time,
    broker.matching.database.upgrade), and /readyz reports the database."""
    if not config.database.auto_upgrade or not any(
            council.matching for council in config.councils.values()):
        return
    from broker.matching.database import make_engine, upgrade

    engine = make_engine(config.database.url)
    try:
        upgrade(engine)
    except Exception as exc:  # noqa: BLE001 - any driver error: the workers try again
        log.warning("link store migrations not run before the workers start: %s",
                    (str(exc).strip().splitlines() or [type(exc).__name__])[0],
                    extra={"event": "database.upgrade-deferred"})
    finally:
        engine.dispose()  # no connection is inherited by the forked workers


def serve(path: str | None, bind: str, workers: int) -> int:
    """Runs until gunicorn stops; 2 when the configuration is refused at start."""
    metrics = prepare_metrics_directory()
    try:
        from broker.observability import configure_logging

        configure_logging(os.environ.get("BROKER_LOG_LEVEL", "INFO"))
        logging.captureWarnings(True)  # a library's warning is a JSON line like any other
        try:
            config = checked_config(path)
        except StartupRefused as exc:
            for line in exc.lines:
                log.error("start refused: %s", line, extra={"event": "config.refused"})
            return 2
        upgrade_link_store(config)
        options = gunicorn_options(bind, workers)
        options["child_exit"] = child_exit
        BrokerServer(config, options, reread=lambda: checked_config(config.source)).run()
        return 0
    finally:
        metrics.remove()
