"""The `broker` command for operators (and `broker demo` for newcomers)."""

from __future__ import annotations

import argparse
import os
import sys

from broker.config import ConfigError, load_config


def _config(args):
    return load_config(getattr(args, "config", None))


def cmd_check_config(args) -> int:
    from broker.operations.cli import cmd_check_config as check

    return check(args)


def cmd_sp_metadata(args) -> int:
    from broker.hub.sp_metadata import sp_metadata

    config = _config(args)
    if config.saml is None:
        raise ConfigError(config.source, "saml", "no `saml:` section: with One Login alone the "
                          "broker is no SAML service provider")
    print(sp_metadata(config))
    return 0


def cmd_serve(args) -> int:
    # Before anything imports prometheus_client: broker.serve sets PROMETHEUS_MULTIPROC_DIR.
    from broker.serve import serve

    return serve(getattr(args, "config", None), bind=f"{args.host}:{args.port}",
                 workers=args.workers)


def cmd_demo(_args) -> int:
    from broker.devtools.demo import run_demo

    return run_demo()


def _stand_in_settings(args, port_name: str) -> dict:
    """`broker stub-hub` and `broker demo-council` alone: the demo's settings, with what their
    options name."""
    from pathlib import Path

    from broker.devtools.demo import demo_settings

    environ = dict(os.environ)
    if args.port is not None:
        environ[f"BROKER_DEMO_{port_name.upper()}_PORT"] = str(args.port)
    if args.url:
        environ[f"BROKER_DEMO_{port_name.upper()}_URL"] = args.url
    settings = demo_settings(environ)
    if args.config:
        settings["config"] = args.config
    if getattr(args, "keys", None):
        settings["keys"] = Path(args.keys)
    return settings


def cmd_stub_hub(args) -> int:
    from werkzeug.serving import run_simple

    from broker.devtools.demo import demo_environ, stub_hub_config
    from broker.devtools.keys import STUB_HUB_PAIRS
    from broker.devtools.stub_hub.app import create_stub_hub

    settings = _stand_in_settings(args, "hub")
    keys = settings["keys"]
    missing = [name for pair in STUB_HUB_PAIRS for name in (f"{pair}.key", f"{pair}.crt")
               if not (keys / name).is_file()]
    if missing:
        raise SystemExit(f"stub hub: {keys}: no {', '.join(missing)}; make them with "
                         f"`broker dev-keys {keys}`")
    config = load_config(settings["config"], demo_environ(settings))
    app = create_stub_hub(stub_hub_config(config, keys, settings["urls"]["hub"]))
    run_simple(args.host, settings["ports"]["hub"], app, threaded=True)
    return 0


def cmd_demo_council(args) -> int:
    from werkzeug.serving import run_simple

    from broker.devtools.council_app.app import CouncilAppConfig, create_council_app
    from broker.devtools.demo import DEMO_CLIENT_ID, DEMO_CLIENT_SECRET, configured_mode

    settings = _stand_in_settings(args, "council")
    app = create_council_app(CouncilAppConfig(
        base_url=settings["urls"]["council"], broker_issuer=settings["urls"]["broker"],
        client_id=DEMO_CLIENT_ID, client_secret=DEMO_CLIENT_SECRET,
        mode=configured_mode(settings["config"])))
    run_simple(args.host, settings["ports"]["council"], app, threaded=True)
    return 0


def cmd_dev_keys(args) -> int:
    from pathlib import Path

    from broker.devtools.keys import ensure_demo_keys
    from broker.devtools.stub_hub.app import refuse_production

    refuse_production("Demo key generation")
    print(f"demo keys ready in {ensure_demo_keys(Path(args.directory))}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="broker", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    def add(name, func, help_text, config=True):
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if config:
            sub.add_argument("config", nargs="?", help="YAML file (default: $BROKER_CONFIG)")
        sub.set_defaults(func=func)
        return sub

    from broker.operations.cli import add_check_config_options
    from broker.operations.cli import add_commands as add_operator_commands

    add_check_config_options(add("check-config", cmd_check_config,
                                 "validate the configuration and everything it needs, and exit"))
    add("sp-metadata", cmd_sp_metadata, "print the broker's signed SAML SP metadata")
    serve = add("serve", cmd_serve, "run the broker")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=8000)
    serve.add_argument("--workers", type=int, default=int(os.environ.get("BROKER_WORKERS", "2")),
                       help="gunicorn worker processes (default 2, or $BROKER_WORKERS)")
    add("demo", cmd_demo, "run broker, stub hub and demo council app together", config=False)
    for name, func, text, port_name, port in (
            ("stub-hub", cmd_stub_hub, "run the stub hub alone (development only): a stand-in "
             "for the identity hub that trusts the broker named by --config", "hub", 8001),
            ("demo-council", cmd_demo_council, "run the demo council app alone (development "
             "only)", "council", 8002)):
        sub = add(name, func, text, config=False)
        sub.add_argument("--config", help="the broker's YAML file; refused when its mode is "
                         "production (default: $BROKER_CONFIG, else config/demo.yaml)")
        if name == "stub-hub":
            sub.add_argument("--keys", help="folder with the demo federation's keys (its CA "
                             "chain, the hub's and identity providers' pairs), made by `broker "
                             "dev-keys` (default: $BROKER_DEMO_KEYS, else var/demo)")
        sub.add_argument("--host", default="127.0.0.1", help="address to listen on")
        sub.add_argument("--port", type=int, default=None, help=f"port to listen on (default: "
                         f"$BROKER_DEMO_{port_name.upper()}_PORT, else {port})")
        sub.add_argument("--url", help=f"public URL, when a proxy fronts it (default: "
                         f"$BROKER_DEMO_{port_name.upper()}_URL, else http://localhost:PORT)")
    keys = add("dev-keys", cmd_dev_keys, "generate missing demo keys (development only)",
               config=False)
    keys.add_argument("directory", nargs="?", default="var/demo")
    from broker.matching.cli import add_commands as add_matching_commands

    add_matching_commands(commands)  # `broker db upgrade`, `broker links show|unlink`
    add_operator_commands(commands)  # `broker keys …`, `broker metadata …`, `broker clients …`
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ConfigError as exc:
        print(f"broker: configuration error: {exc}", file=sys.stderr)
        return 2
    except SystemExit as exc:
        if isinstance(exc.code, str):
            print(f"broker: {exc.code}", file=sys.stderr)
            return 2
        raise


if __name__ == "__main__":
    sys.exit(main())
