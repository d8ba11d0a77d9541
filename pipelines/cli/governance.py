"""Who does what: per-channel settings (``channels``), the ``audit`` log and console accounts (``admins``)."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from pipelines.cli import common
from pipelines.cli.common import EXIT_OK, EXIT_USAGE


def _print_channels(channels: list[Any]) -> None:
    header = ("CHANNEL", "NAME", "ON", "FOLLOWUPS", "PRIVATE", "ESCALATE", "TAGS (FROM)")
    rows = [
        (
            c.channel_id,
            (c.name or "-")[:20],
            "yes" if c.enabled else "no",
            c.followups,
            "yes" if c.ephemeral else "no",
            c.escalation_usergroup or "-",
            f"{','.join(c.tags) or 'all sources'} ({c.origin})",
        )
        for c in channels
    ]
    for row in (header, *rows):
        print("{:<14} {:<20} {:<4} {:<13} {:<8} {:<12} {}".format(*row))


def cmd_channels(args: argparse.Namespace) -> int:
    """Per-channel Slack settings: applied to the next question in every process, no restart."""
    from pipelines.records.channel_settings import ChannelChange

    channels, _ = common.records_only()
    actor = args.by or "cli"
    if args.action == "list":
        listed = channels.list()
        if args.json:
            common.print_json([c.to_dict() for c in listed])
        elif not listed:
            print("No channel has its own settings; every channel follows the defaults (see docs/slack.md).")
        else:
            _print_channels(listed)
        return EXIT_OK
    if not args.channel_id:
        print(f"needle channels {args.action}: give a channel id (C0123ABCD)", file=sys.stderr)
        return EXIT_USAGE
    if args.action == "show":
        shown = channels.get(args.channel_id)
        common.print_json(shown.to_dict()) if args.json else _print_channels([shown])
        return EXIT_OK
    if args.action == "unset":
        removed = channels.unset(args.channel_id, actor)
        print(f"{args.channel_id}: {'back to the defaults' if removed else 'had no settings of its own'}")
        return EXIT_OK
    change = ChannelChange(
        name=args.name,
        enabled=common.yes_no(args.enabled),
        tags=None if args.tags is None else common.split_tags(args.tags),
        followups=args.followups,
        ephemeral=common.yes_no(args.ephemeral),
        escalation_usergroup=args.escalation,
    )
    updated = channels.set(args.channel_id, change, actor)
    common.print_json(updated.to_dict()) if args.json else _print_channels([updated])
    return EXIT_OK


def cmd_audit(args: argparse.Namespace) -> int:
    """Read the audit log: newest first, filtered; CSV for spreadsheets."""
    import time

    from pipelines.records.audit import to_csv

    _, audit = common.records_only()
    since = time.time() - args.days * 86400 if args.days else None
    entries = audit.entries(actor=args.actor, action=args.action, since=since, limit=args.limit)
    if args.csv:
        sys.stdout.write(to_csv(entries))
    elif args.json:
        common.print_json([entry.__dict__ for entry in entries])
    else:
        from datetime import UTC, datetime

        for entry in entries:
            when = datetime.fromtimestamp(entry.at, UTC).strftime("%Y-%m-%d %H:%M:%S")
            print(f"{when}  {entry.actor:<16} {entry.action:<16} {entry.target}")
    return EXIT_OK


def cmd_admins(args: argparse.Namespace) -> int:
    """Console accounts: add, remove, change a password or a role, list. Passwords are read from the
    terminal (or one line of stdin with --password-stdin), never from the command line."""
    import getpass

    from pipelines.base.errors import NeedleError
    from pipelines.base.settings import get_settings
    from pipelines.records.accounts import AccountStore

    _, audit = common.records_only()
    accounts = AccountStore(audit.records, get_settings(), audit)
    if args.action == "list":
        for account in accounts.list():
            origin = " (NEEDLE_ADMIN_USERNAME)" if account.from_environment else ""
            print(f"{account.username:<32} {account.role}{origin}")
        return EXIT_OK
    if not args.username:
        print(f"needle admins {args.action}: give a username", file=sys.stderr)
        return EXIT_USAGE

    def password() -> str:
        if args.password_stdin:
            return sys.stdin.readline().rstrip("\n")
        first = getpass.getpass(f"Password for {args.username}: ")
        if getpass.getpass("Again: ") != first:
            raise NeedleError("the two passwords differ")
        return first

    if args.action == "add":
        account = accounts.add(args.username, password(), args.role or "viewer", actor=args.by)
        print(f"added {account.username} ({account.role})")
    elif args.action == "remove":
        accounts.remove(args.username, actor=args.by)
        print(f"removed {args.username}")
    elif args.action == "passwd":
        accounts.set_password(args.username, password(), actor=args.by)
        print(f"changed the password of {args.username}")
    else:  # role
        account = accounts.set_role(args.username, args.role or "", actor=args.by)
        print(f"{account.username} is now {account.role}")
    return EXIT_OK


def add_commands(commands: Any) -> None:
    """Add this group's commands to ``needle``'s sub-command parser."""
    channels = commands.add_parser("channels", help="per-channel Slack settings (no restart needed)")
    channels.add_argument("action", choices=["list", "show", "set", "unset"])
    channels.add_argument("channel_id", nargs="?", metavar="CHANNEL_ID", help="a Slack channel id, C0123ABCD")
    channels.add_argument("--name", help="the channel's name, for people reading the list")
    channels.add_argument("--enabled", choices=["yes", "no"], help="whether Needle answers in the channel")
    channels.add_argument(
        "--tags", help="answer only from sources with these comma-separated tags ('' = all)"
    )
    channels.add_argument(
        "--followups", choices=["questions", "all", "mention-only"], help="later messages in answered threads"
    )
    channels.add_argument(
        "--ephemeral", choices=["yes", "no"], help="answers only the asker sees, by default"
    )
    channels.add_argument(
        "--escalation", metavar="USERGROUP_ID", help="user group for 'Ask a person' ('' = none)"
    )
    channels.add_argument("--by", default=common.whoami(), help="who makes the change (audit log)")
    channels.add_argument("--json", action="store_true")
    channels.set_defaults(handler=cmd_channels)

    audit = commands.add_parser("audit", help="read the audit log of admin changes")
    audit.add_argument("--actor", help="only changes by this person")
    audit.add_argument("--action", help="only this action, e.g. channel.set, source.delete")
    audit.add_argument("--days", type=float, help="only the last N days")
    audit.add_argument("--limit", type=int, default=200)
    audit.add_argument("--csv", action="store_true", help="print CSV")
    audit.add_argument("--json", action="store_true")
    audit.set_defaults(handler=cmd_audit)

    admins = commands.add_parser("admins", help="console accounts and roles: add, remove, passwd, role, list")
    admins.add_argument("action", choices=["add", "remove", "passwd", "role", "list"])
    admins.add_argument("username", nargs="?")
    admins.add_argument(
        "--role", choices=["viewer", "editor", "owner"], help="for add (default viewer) and role"
    )
    admins.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    admins.add_argument("--by", default=common.whoami(), help="who makes the change (audit log)")
    admins.set_defaults(handler=cmd_admins)
