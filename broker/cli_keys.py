"""``clearpane users api-key create|list|revoke``: API keys of integration accounts
from the command line (the same rules as ``/api/v1/api-keys``)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from typing import Any

from broker.api.api_keys import DEFAULT_DAYS, MAX_DAYS, key_json
from broker.auth import api_keys
from broker.clock import Clock
from broker.store import queries
from broker.store.db import Database

__all__ = ["add_api_key_parser", "api_key_command"]


def add_api_key_parser(sub: Any, common: Callable[..., None]) -> None:
    """Add the ``api-key`` command (with its own sub-commands) to ``clearpane users``."""
    keys = sub.add_parser("api-key", help="API keys of integration accounts")
    common(keys, inherited=True)
    actions = keys.add_subparsers(dest="key_command", required=True)
    create = actions.add_parser("create", help="create a key (printed once)")
    common(create, inherited=True)
    create.add_argument("username", help="a user of role 'integration'")
    create.add_argument("--name", required=True, help="what the key is for, e.g. 'help desk'")
    create.add_argument(
        "--scope", action="append", required=True, choices=api_keys.SCOPES, dest="scopes"
    )
    create.add_argument("--expires-days", type=int, default=DEFAULT_DAYS)
    listing = actions.add_parser("list", help="list keys (never the keys themselves)")
    common(listing, inherited=True)
    revoke = actions.add_parser("revoke", help="revoke a key by its id")
    common(revoke, inherited=True)
    revoke.add_argument("key_id")


async def api_key_command(db: Database, clock: Clock, args: argparse.Namespace) -> int:
    """Run ``clearpane users api-key …``; the exit status."""
    now = clock.now_ms()
    if args.key_command == "list":
        print(f"{'ID':<33} {'PREFIX':<13} {'USER':<16} {'STATE':<8} {'LAST USE':<25} SCOPES")
        for k in await queries.list_api_keys(db):
            shown = key_json(k, now)
            print(
                f"{k.id:<33} {k.prefix:<13} {k.username:<16} {shown['state']:<8} "
                f"{shown['last_used_at'] or '-':<25} {','.join(k.scopes)}"
            )
        return 0
    if args.key_command == "revoke":
        revoked = await queries.revoke_api_key(db, args.key_id, now)
        print(f"revoked {revoked.prefix}… of {revoked.username}")
        return 0
    if not 1 <= args.expires_days <= MAX_DAYS:
        print(f"clearpane users: --expires-days must be 1-{MAX_DAYS}", file=sys.stderr)
        return 1
    user = await queries.get_user_by_username(db, args.username)
    if user is None:
        print(f"clearpane users: no user {args.username!r}", file=sys.stderr)
        return 1
    key = api_keys.new_key()
    stored = await queries.create_api_key(
        db,
        user_id=user.id,
        name=args.name,
        scopes=args.scopes,
        key_hash=api_keys.hash_key(key),
        prefix=api_keys.display_prefix(key),
        created_by=None,
        at=now,
        expires_at=now + args.expires_days * 86_400_000,
    )
    print(f"created key {stored.id} for {user.username} ({', '.join(stored.scopes)})")
    print(f"key: {key}")
    print("This key is shown only once.")
    return 0
