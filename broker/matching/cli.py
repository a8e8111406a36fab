"""Operator commands for the link store: `broker db upgrade`, `broker links show|unlink`.

Reading and removing links are audited (table `audit_events`): a link is what lets someone
into a resident's council account, so who looked at or removed one must be answerable later.
"""

from __future__ import annotations

import argparse
import getpass
import os
import sys


def _store(args):
    from broker.config import load_config
    from broker.matching.database import make_engine
    from broker.matching.links import LinkStore

    config = load_config(args.config)
    return config, make_engine(config.database.url), LinkStore


def cmd_db_upgrade(args) -> int:
    from broker.matching.database import current_revision, upgrade

    _config, engine, _ = _store(args)
    upgrade(engine, args.revision)
    print(f"database at revision {current_revision(engine)}")
    return 0


def _operator(args) -> str:
    if args.operator:
        return args.operator
    try:
        return os.environ.get("SUDO_USER") or getpass.getuser()
    except Exception:  # no login name (some containers)
        return "unknown"


def _links_command(args, action: str) -> int:
    config, engine, LinkStore = _store(args)
    if args.council not in config.councils:
        print(f"broker: unknown council {args.council!r}", file=sys.stderr)
        return 2
    store = LinkStore(engine)
    if action == "show":
        links = store.show(_operator(args), args.council, args.account, args.hashed_pid)
        verb = "shown"
    else:
        if not args.account and not args.hashed_pid:
            print("broker: name --account or --hashed-pid to unlink", file=sys.stderr)
            return 2
        links = store.unlink(_operator(args), args.council, args.account, args.hashed_pid)
        verb = "unlinked"
    for link in links:
        print(f"{link.council_id}\t{link.local_account_id or '-'}\t{link.hashed_pid}\t"
              f"{link.level_of_assurance.name}\tcreated {link.created_at:%Y-%m-%dT%H:%M:%S}\t"
              f"last seen {link.last_seen_at:%Y-%m-%dT%H:%M:%S}")
    print(f"{len(links)} link(s) {verb}", file=sys.stderr)
    return 0


def add_commands(commands: argparse._SubParsersAction) -> None:
    """Hangs `db` and `links` off the `broker` command (called from broker.cli)."""
    db = commands.add_parser("db", help="manage the link store's database schema")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    upgrade = db_commands.add_parser("upgrade", help="run the Alembic migrations")
    upgrade.add_argument("config", nargs="?", help="YAML file (default: $BROKER_CONFIG)")
    upgrade.add_argument("--revision", default="head")
    upgrade.set_defaults(func=cmd_db_upgrade)

    links = commands.add_parser("links", help="show or remove account links (audited)")
    link_commands = links.add_subparsers(dest="links_command", required=True)
    for name, text in (("show", "show a council's links (all, or by account or hashed PID)"),
                       ("unlink", "remove links by local account id or hashed PID")):
        sub = link_commands.add_parser(name, help=text, description=text)
        sub.add_argument("config", nargs="?", help="YAML file (default: $BROKER_CONFIG)")
        sub.add_argument("--council", required=True, help="council id from the configuration")
        sub.add_argument("--account", help="the council's local account id")
        sub.add_argument("--hashed-pid", dest="hashed_pid", help="the hashed PID (64 hex)")
        sub.add_argument("--operator", help="who is acting (default: the login name)")
        sub.set_defaults(func=lambda args, action=name: _links_command(args, action))
