"""``clearpane broker`` (run the server) and ``clearpane users`` (manage staff).

Configuration comes from ``CLEARPANE_*`` variables (docs/configuration.md); flags
override them.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import signal
import sys
from collections.abc import Sequence
from typing import Any

from broker.auth.passwords import PasswordService, random_password
from broker.clock import SystemClock
from broker.config import BrokerConfig
from broker.errors import BrokerError
from broker.store import queries
from broker.store.db import Database
from broker.workers import WORKER_FLAG, run_workers

__all__ = ["main", "users_main"]

log = logging.getLogger(__name__)


def _common(parser: argparse.ArgumentParser, *, inherited: bool = False) -> None:
    # On an action's own parser (``users add NAME --data-dir D``) the options must not
    # reset a value given before the action, hence SUPPRESS as their default there.
    default = argparse.SUPPRESS if inherited else None
    parser.add_argument("--data-dir", default=default, help="data directory (CLEARPANE_DATA_DIR)")
    parser.add_argument(
        "--database-url", default=default, help="database URL (CLEARPANE_DATABASE_URL)"
    )


def _config(args: argparse.Namespace, **more: object) -> BrokerConfig:
    from pathlib import Path

    config = BrokerConfig.from_env().with_overrides(
        data_dir=Path(args.data_dir) if args.data_dir else None,
        database_url=args.database_url,
        **more,
    )
    return config.check()


def main(argv: Sequence[str]) -> int:
    """``clearpane broker``: migrate the store, ensure the PKI, create the first admin
    (printing its one-time password once), serve until SIGINT/SIGTERM."""
    parser = argparse.ArgumentParser(prog="clearpane broker", description=main.__doc__)
    _common(parser)
    parser.add_argument("--host", help="address to listen on (CLEARPANE_HOST)")
    parser.add_argument("--port", type=int, help="port (CLEARPANE_PORT, default 8443)")
    parser.add_argument("--public-url", help="URL agents and browsers use (CLEARPANE_PUBLIC_URL)")
    parser.add_argument(
        "--hostname",
        action="append",
        help="DNS name for the server certificate (repeatable; CLEARPANE_HOSTNAMES)",
    )
    parser.add_argument("--ip", action="append", help="IP address for the certificate (repeatable)")
    parser.add_argument(
        "--insecure-http",
        action="store_true",
        default=None,
        help="serve plain HTTP (only behind a TLS-terminating proxy)",
    )
    parser.add_argument("--log-level", help="DEBUG, INFO, WARNING or ERROR")
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="broker processes on this machine, one per core (needs the nats relay "
        "backend and PostgreSQL; docs/operations.md §6.6)",
    )
    parser.add_argument(WORKER_FLAG, type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(list(argv))
    if args.workers < 1:
        print("clearpane broker: --workers must be at least 1", file=sys.stderr)
        return 2
    try:
        config = _config(
            args,
            host=args.host,
            port=args.port,
            public_url=args.public_url,
            hostnames=tuple(args.hostname) if args.hostname else None,
            ip_addresses=tuple(args.ip) if args.ip else None,
            insecure_http=args.insecure_http,
            log_level=args.log_level,
        )
    except BrokerError as exc:
        print(f"clearpane broker: configuration error: {exc.message}", file=sys.stderr)
        return 2
    if args.workers > 1 and args.worker_index is None:
        return run_workers(config, args.workers, _without_workers(argv))
    logging.basicConfig(
        level=config.log_level.upper(), format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from broker.loop import run as run_loop

    try:
        run_loop(_serve(config, args.worker_index), config.event_loop)
    except BrokerError as exc:
        print(f"clearpane broker: {exc.message}", file=sys.stderr)
        return 1
    return 0


def _without_workers(argv: Sequence[str]) -> list[str]:
    """``argv`` without its ``--workers N`` (the workers get the rest)."""
    out: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--workers":
            skip = True
        elif not arg.startswith("--workers="):
            out.append(arg)
    return out


async def _serve(config: BrokerConfig, worker: int | None = None) -> None:
    from broker.server import start_server

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    server = await start_server(config, worker=worker)
    if server.first_admin is not None:
        username, password = server.first_admin
        print(
            "First start: created the administrator account.\n"
            f"  username: {username}\n"
            f"  password: {password}\n"
            "This password is shown only once. Change it with "
            "'clearpane users reset-password admin'.",
            flush=True,
        )
    if config.insecure_http:
        print("WARNING: serving plain HTTP; run only behind a TLS-terminating proxy.", flush=True)
    print(f"Clearpane broker listening on {server.url}", flush=True)
    print(f"Enrollment file for agents: {server.enrollment_path}", flush=True)
    try:
        await stop.wait()
        print("Shutting down…", flush=True)
    finally:
        await server.stop()


# --- clearpane users -----------------------------------------------------------------


def users_main(argv: Sequence[str]) -> int:
    """``clearpane users add|list|disable|enable|reset-password|api-key``."""
    parser = argparse.ArgumentParser(prog="clearpane users", description="Manage staff accounts.")
    _common(parser)
    sub = parser.add_subparsers(dest="command", required=True)
    add = sub.add_parser("add", help="add a user (prints a generated password once)")
    _common(add, inherited=True)
    add.add_argument("username")
    add.add_argument("--role", required=True, choices=queries.ROLES)
    add.add_argument("--name", help="display name (default: the username)")
    add.add_argument("--skills", default="", help="comma-separated skills, e.g. windows,printers")
    add.add_argument(
        "--password-stdin", action="store_true", help="read the password from standard input"
    )
    _common(sub.add_parser("list", help="list users"), inherited=True)
    for name, text in (
        ("disable", "disable a user"),
        ("enable", "enable a user again"),
        ("reset-password", "set a new random password (printed once)"),
    ):
        p = sub.add_parser(name, help=text)
        _common(p, inherited=True)
        p.add_argument("username")
        if name == "reset-password":
            p.add_argument("--password-stdin", action="store_true")
    _api_key_parser(sub)
    args = parser.parse_args(list(argv))
    try:
        config = _config(args)
        return asyncio.run(_users(config, args))
    except BrokerError as exc:
        print(f"clearpane users: {exc.message}", file=sys.stderr)
        return 1


def _api_key_parser(sub: Any) -> None:
    """``clearpane users api-key create|list|revoke`` (broker/cli_keys.py)."""
    from broker.cli_keys import add_api_key_parser

    add_api_key_parser(sub, _common)


def _read_password(from_stdin: bool) -> str | None:
    if not from_stdin:
        return None
    password = sys.stdin.readline().rstrip("\n") if not sys.stdin.isatty() else getpass.getpass()
    if len(password) < PasswordService.MIN_LENGTH:
        raise BrokerError(f"passwords need at least {PasswordService.MIN_LENGTH} characters")
    return password


async def _users(config: BrokerConfig, args: argparse.Namespace) -> int:
    config.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    db = Database.open(config.effective_database_url)
    passwords = PasswordService()
    clock = SystemClock()
    try:
        await db.migrate()
        if args.command == "list":
            users = await queries.list_users(db)
            print(f"{'USERNAME':<20} {'ROLE':<11} {'STATUS':<9} {'SKILLS':<30} NAME")
            for u in users:
                status = "disabled" if u.disabled else "active"
                print(
                    f"{u.username:<20} {u.role:<11} {status:<9} {','.join(u.skills):<30} {u.name}"
                )
            return 0
        if args.command == "api-key":
            from broker.cli_keys import api_key_command

            return await api_key_command(db, clock, args)
        if args.command == "add":
            from broker.api.users import check_username

            given = _read_password(args.password_stdin)
            password = given or random_password()
            added = await queries.create_user(
                db,
                username=check_username(args.username),
                name=args.name or args.username,
                role=args.role,
                skills=[s.strip() for s in args.skills.split(",") if s.strip()],
                password_hash=await passwords.hash_async(password),
                at=clock.now_ms(),
            )
            print(f"added {added.username} ({added.role})")
            if given is None:
                print(f"password: {password}")
            return 0
        user = await queries.get_user_by_username(db, args.username)
        if user is None:
            print(f"clearpane users: no user {args.username!r}", file=sys.stderr)
            return 1
        if args.command in ("disable", "enable"):
            await queries.update_user(db, user.id, disabled=args.command == "disable")
            print(f"{args.command}d {user.username}")
            return 0
        given = _read_password(args.password_stdin)
        password = given or random_password()
        await queries.update_user(db, user.id, password_hash=await passwords.hash_async(password))
        print(f"new password for {user.username} set")
        if given is None:
            print(f"password: {password}")
        return 0
    finally:
        await db.close()
