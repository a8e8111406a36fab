"""The operators' sub-commands of `broker`: argument parsing only; the work is in sibling modules."""

from __future__ import annotations

import argparse

from broker.operations.keys import DEFAULT_CERT_DAYS, KINDS, ONE_LOGIN_KIND

CONFIG_HELP = "YAML file (default: $BROKER_CONFIG)"


def cmd_check_config(args) -> int:
    from broker.operations.checks import check_config

    return check_config(args.config, offline=args.offline)


def add_check_config_options(sub: argparse.ArgumentParser) -> None:
    sub.add_argument("--offline", action="store_true",
                     help="skip what needs the network: Redis, the database and a hub metadata URL "
                          "(a hub metadata file is still checked)")


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Hangs `keys`, `metadata` and `clients` off the `broker` command (called from broker.cli)."""
    keys = commands.add_parser(
        "keys", help="generate, list, rotate and retire the broker's keys",
        description="Key rotation in three steps, each editing the configuration file in place "
                    "(comments kept): generate (publish a new key, unused), rotate (use it; the old "
                    "one stays published; again = roll back), retire (stop publishing the unused "
                    "one). Restart each broker process in turn after each step. "
                    "See docs/operations.md.")
    key_commands = keys.add_subparsers(dest="keys_command", required=True)
    texts = {
        "list": "show every published key: what signs, what decrypts, expiries",
        "generate": "write a new key beside the current one and publish it without using it",
        "rotate": "start using the other published key (the current one stays published)",
        "retire": "stop publishing the key that is not in use (its files are kept)",
        "public": "print the public part of each published One Login client key, as a JWK and as "
                  "PEM, to register with One Login",
    }
    for name, text in texts.items():
        sub = key_commands.add_parser(name, help=text, description=text)
        if name == "public":
            sub.add_argument("kind", choices=[ONE_LOGIN_KIND], help="which key: " + ONE_LOGIN_KIND)
        elif name != "list":
            sub.add_argument("kind", choices=KINDS, help="which key: " + ", ".join(KINDS))
        sub.add_argument("config", nargs="?", help=CONFIG_HELP)
        sub.add_argument("--operator", help="who is acting, for the audit event (default: login name)")
        if name == "generate":
            sub.add_argument("--days", type=int, default=DEFAULT_CERT_DAYS,
                             help=f"certificate lifetime for SAML keys (default {DEFAULT_CERT_DAYS})")
            sub.add_argument("--out", metavar="DIRECTORY",
                             help="first install: only write the key files into DIRECTORY (no "
                                  "configuration is read or edited) and say which keys to set")
        sub.set_defaults(func=_keys_command(name))

    metadata = commands.add_parser("metadata", help="the hub's metadata as the broker trusts it")
    metadata_commands = metadata.add_subparsers(dest="metadata_command", required=True)
    for name, text in (("status", "show the shared copy: entityID, SSO endpoint, certificates, "
                                  "validUntil, last refresh and its outcome (never fetches)"),
                       ("refresh", "fetch and verify the hub's metadata now and share it")):
        sub = metadata_commands.add_parser(name, help=text, description=text)
        sub.add_argument("config", nargs="?", help=CONFIG_HELP)
        sub.set_defaults(func=_metadata_command(name))

    clients = commands.add_parser("clients", help="the council apps registered in the configuration")
    client_commands = clients.add_subparsers(dest="clients_command", required=True)
    sub = client_commands.add_parser("list", help="one line per client",
                                     description="one line per client")
    sub.add_argument("config", nargs="?", help=CONFIG_HELP)
    sub.set_defaults(func=lambda args: _clients().list_clients(args.config))
    sub = client_commands.add_parser("show", help="everything about one client (secrets hidden)",
                                     description="everything about one client (secrets hidden)")
    sub.add_argument("client_id")
    sub.add_argument("config", nargs="?", help=CONFIG_HELP)
    sub.set_defaults(func=lambda args: _clients().show_client(args.config, args.client_id))


def _keys_command(action: str):
    def run(args) -> int:
        from broker.operations.keys import run as run_keys

        return run_keys(action, getattr(args, "kind", None), args.config, args.operator,
                        getattr(args, "days", DEFAULT_CERT_DAYS), getattr(args, "out", None))
    return run


def _metadata_command(action: str):
    def run(args) -> int:
        from broker.operations import metadata

        return getattr(metadata, action)(args.config)
    return run


def _clients():
    from broker.operations import clients

    return clients
