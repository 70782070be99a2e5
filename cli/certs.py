"""``clearpane certs``: the admin's certificate authority.

::

    clearpane certs [--data-dir DIR] [--passphrase-file FILE] COMMAND ...

    init     [--organization ORG]              root + issuing intermediate
    issue    server --dns NAME --ip IP [--days N] --out DIR   a TLS server certificate
    issue    server --broker [--dns ..] [--ip ..]            renew the broker's own
    issue    client NAME [--kind agent|staff] [--days N] --out DIR
    issue    audit-recipient | checkpoint-signer [--days N]  renew (same key)
    list     [--json]                          every certificate: expiry and status
    revoke   SERIAL [--reason REASON]          revoke and republish the CRL
    crl      [--force]                         re-sign the CRL if half-way to stale
    rotate   begin [--root-key FILE] | reissue [--new-keys] | finish | status
    enroll   --broker-url URL --out FILE       an agent enrollment file (URL + CA pin)

The data directory is ``--data-dir``, else ``CLEARPANE_DATA_DIR``, else
``clearpane-data`` (as for the broker). The CA passphrase comes from
``--passphrase-file``, else ``CLEARPANE_CA_PASSPHRASE``, else the broker's generated
``DATA_DIR/ca/passphrase`` (demo set-ups); ``init`` asks for one on a terminal.
Private keys handed out by ``issue`` are encrypted with ``--key-passphrase-file`` or a
generated passphrase printed once. Every action is recorded in
``DATA_DIR/ca/audit.jsonl`` (:func:`audit.jsonl.event_sink` plugged into the store's
``EventSink``: this command lives in ``cli/`` so that ``certs`` and ``audit`` never import
each other). Exit status: 0 done, 1 refused (the message says
why; nothing was written), 2 usage error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import getpass
import json
import os
import secrets
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path

from audit.errors import AuditError
from audit.jsonl import event_sink
from certs import offline, rotation
from certs.bootstrap import PASSPHRASE_ENV
from certs.ca import IssuedCert, utc_now
from certs.crl import REASONS
from certs.errors import CertError, IssuanceError
from certs.keys import write_atomic, write_private_key
from certs.store import CaStore
from certs.verify import fingerprint

__all__ = ["main"]


def _days(text: str) -> dt.timedelta:
    try:
        days = int(text)
    except ValueError:
        days = 0
    if days <= 0:
        raise argparse.ArgumentTypeError(
            f"{text!r}: give a whole number of days > 0 (certificates always expire)"
        )
    return dt.timedelta(days=days)


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="clearpane certs", description="the certificate authority")
    p.add_argument("--data-dir", type=Path, help="data directory (CLEARPANE_DATA_DIR)")
    p.add_argument("--passphrase-file", type=Path, help=f"CA passphrase file ({PASSPHRASE_ENV})")
    sub = p.add_subparsers(dest="command", required=True)

    init = sub.add_parser("init", help="create the root and the issuing intermediate")
    init.add_argument("--organization", default="Clearpane")
    init.add_argument(
        "--offline-root",
        type=Path,
        metavar="DIR",
        help="write the root key into DIR (e.g. removable media), not the data dir",
    )

    akey = sub.add_parser("audit-key", help="the audit-recipient key made by a reviewer")
    asteps = akey.add_subparsers(dest="step", required=True)
    areq = asteps.add_parser("request", help="reviewer's machine: make the key and a request")
    areq.add_argument("--key-out", type=Path, required=True, help="the replay page's key file")
    areq.add_argument("--request-out", type=Path, required=True, help="send this to the CA")
    asign = asteps.add_parser("sign", help="CA: certify a request as the audit recipient")
    asign.add_argument("request", type=Path)
    asign.add_argument(
        "--old-key-to", type=Path, help="export the data dir's old audit key here, then remove it"
    )

    move = sub.add_parser("move-keys", help="migration: root and audit keys out of the data dir")
    move.add_argument("--to", type=Path, required=True, metavar="DIR")

    issue = sub.add_parser("issue", help="issue a certificate")
    kinds = issue.add_subparsers(dest="profile", required=True)
    server = kinds.add_parser("server", help="a TLS server certificate")
    server.add_argument("--dns", action="append", default=[], metavar="NAME")
    server.add_argument("--ip", action="append", default=[], metavar="ADDRESS")
    server.add_argument("--days", type=_days)
    server.add_argument("--broker", action="store_true", help="renew the broker's own")
    server.add_argument("--out", type=Path, metavar="DIR")
    server.add_argument("--key-passphrase-file", type=Path)
    client = kinds.add_parser("client", help="a mutual-TLS client certificate")
    client.add_argument("name")
    client.add_argument("--kind", choices=("agent", "staff"), default="agent")
    client.add_argument("--days", type=_days)
    client.add_argument("--out", type=Path, metavar="DIR", required=True)
    client.add_argument("--key-passphrase-file", type=Path)
    for name in ("audit-recipient", "checkpoint-signer"):
        leaf = kinds.add_parser(name, help=f"renew the {name} certificate (same key)")
        leaf.add_argument("--days", type=_days)

    lst = sub.add_parser("list", help="every issued certificate with expiry and status")
    lst.add_argument("--json", action="store_true")

    revoke = sub.add_parser("revoke", help="revoke a certificate (republishes the CRL)")
    revoke.add_argument("serial")
    revoke.add_argument("--reason", choices=sorted(REASONS), default="unspecified")

    crl = sub.add_parser("crl", help="re-sign the CRL when needed")
    crl.add_argument("--force", action="store_true")

    rotate = sub.add_parser("rotate", help="staged CA rotation")
    stages = rotate.add_subparsers(dest="stage", required=True)
    begin = stages.add_parser("begin", help="stage 1: trust a new root beside the old")
    begin.add_argument("--root-key", type=Path, help="the (offline) old root key")
    reissue = stages.add_parser("reissue", help="stage 2: reissue the broker's leaves")
    reissue.add_argument("--new-keys", action="store_true")
    stages.add_parser("finish", help="stage 3: retire the old root")
    stages.add_parser("status", help="where the rotation stands")

    enroll = sub.add_parser("enroll", help="write an agent enrollment file")
    enroll.add_argument("--broker-url", required=True)
    enroll.add_argument("--out", type=Path, required=True)
    return p


def _read_secret(path: Path) -> bytes:
    try:
        value = path.read_bytes().strip()
    except OSError as exc:
        raise IssuanceError(f"cannot read {path}: {exc.strerror}") from None
    if not value:
        raise IssuanceError(f"{path} is empty")
    return value


def _passphrase(args: argparse.Namespace, env: Mapping[str, str]) -> bytes | None:
    if args.passphrase_file is not None:
        return _read_secret(args.passphrase_file)
    value = env.get(PASSPHRASE_ENV, "")
    if value:
        return value.encode("utf-8")
    if args.command == "init" and sys.stdin.isatty():
        first = getpass.getpass("New CA passphrase: ")
        if len(first) < 12:
            raise IssuanceError("choose a passphrase of at least 12 characters")
        if getpass.getpass("Again: ") != first:
            raise IssuanceError("the passphrases differ")
        return first.encode("utf-8")
    return None


def _write_issued(
    issued: IssuedCert, out: Path, stem: str, key_pw_file: Path | None, roots_pem: str
) -> list[str]:
    cert_path, key_path = out / f"{stem}.pem", out / f"{stem}.key"
    key_pw = _read_secret(key_pw_file) if key_pw_file else None
    lines = []
    if key_pw is None:
        key_pw = secrets.token_urlsafe(18).encode("ascii")
        lines.append(f"key passphrase (shown once): {key_pw.decode()}")
    write_private_key(key_path, issued.key, key_pw)
    write_atomic(cert_path, issued.fullchain_pem(), 0o644)
    write_atomic(out / "ca.pem", roots_pem.encode("ascii"), 0o644)
    lines[:0] = [f"certificate: {cert_path}", f"private key (encrypted): {key_path}"]
    return lines


def _check_out(out: Path, stem: str) -> None:
    """Refuse before signing anything if an output file would be overwritten."""
    for name in (f"{stem}.pem", f"{stem}.key"):
        if (out / name).exists():
            raise IssuanceError(f"{out / name} exists: refusing to overwrite")


def _issue(store: CaStore, args: argparse.Namespace) -> list[str]:
    if args.profile == "audit-recipient" and not store.layout.audit_key.exists():
        # The key is with the reviewers (certs.offline): renew from the public key.
        with store.locked():
            offline.renew_external_audit(
                store.layout, store.issuing(), utc_now(), force=True, margin=dt.timedelta(0)
            )
        return [f"renewed {store.layout.audit_cert} for the reviewers' key (same public key)"]
    if args.profile == "audit-recipient":
        issued = store.renew_audit_recipient(lifetime=args.days)
    elif args.profile == "checkpoint-signer":
        issued = store.renew_checkpoint_signer(lifetime=args.days)
    elif args.profile == "server" and args.broker:
        names = (args.dns, args.ip) if (args.dns or args.ip) else (None, None)
        issued = store.renew_broker_server(*names, lifetime=args.days)
        return [
            f"renewed the broker's TLS certificate {issued.cert.serial_number:x} "
            f"(until {issued.cert.not_valid_after_utc:%Y-%m-%d}); a running broker picks it up"
        ]
    else:
        if args.out is None:
            raise IssuanceError("--out DIR is required (or --broker)")
        stem = args.name if args.profile == "client" else (args.dns or args.ip or ["server"])[0]
        stem = stem.replace(":", "_").replace("*", "wildcard")
        _check_out(args.out, stem)
        if args.key_passphrase_file is not None:
            _read_secret(args.key_passphrase_file)  # validate before we sign
        roots = store.trust_bundle().roots_pem()
        if args.profile == "client":
            issued = store.issue_client(args.name, kind=args.kind, lifetime=args.days)
        else:
            issued = store.issue_server(args.dns, args.ip, lifetime=args.days)
        head = (
            f"issued {issued.cert.serial_number:x} until {issued.cert.not_valid_after_utc:%Y-%m-%d}"
        )
        return [head, *_write_issued(issued, args.out, stem, args.key_passphrase_file, roots)]
    return [
        f"issued {issued.cert.serial_number:x} until {issued.cert.not_valid_after_utc:%Y-%m-%d}"
    ]


def _list(store: CaStore, as_json: bool) -> list[str]:
    records = store.records()
    if as_json:
        return [json.dumps([r.to_json() for r in records], indent=2)]
    lines = [f"{'SERIAL':<41} {'PROFILE':<17} {'STATUS':<13} {'EXPIRES':<16} NAME"]
    for r in records:
        names = ", ".join(r.names) or r.common_name
        lines.append(
            f"{r.serial:<41} {r.profile:<17} {r.status:<13} {r.not_after:%Y-%m-%d %H:%M} {names}"
        )
    lines += [f"warning: {w}" for w in store.expiry_warnings()]
    return lines


def _rotate(store: CaStore, args: argparse.Namespace) -> list[str]:
    if args.stage == "begin":
        st = rotation.begin(store, root_key_path=args.root_key)
    elif args.stage == "reissue":
        st = rotation.reissue(store, new_keys=args.new_keys)
    elif args.stage == "finish":
        st = rotation.finish(store)
    else:
        st = rotation.status(store)
    if st.stage is None:
        return ["no rotation in progress" if args.stage == "status" else "rotation finished"]
    lines = [f"rotation stage: {st.stage} (since {st.started_at})", f"new root: {st.new_root}"]
    if st.old_issuer_leaves:
        lines.append(
            "still issued by the old CA (reissue before 'finish'): "
            + ", ".join(st.old_issuer_leaves)
        )
    return lines


def _run(args: argparse.Namespace, env: Mapping[str, str]) -> list[str]:
    if args.command == "audit-key" and args.step == "request":  # no CA, no data dir
        public = offline.make_audit_request(args.key_out, args.request_out)
        return [
            f"the audit key (keep it, it decrypts recordings): {args.key_out}",
            f"the request for the CA: {args.request_out} (public key {public[:16]}…)",
        ]
    data_dir = args.data_dir or Path(env.get("CLEARPANE_DATA_DIR") or "clearpane-data")
    passphrase = _passphrase(args, env)
    actor = f"cli:{getpass.getuser()}"
    events = event_sink(data_dir / "ca" / "audit.jsonl", actor)
    store = CaStore(data_dir, passphrase, events=events)
    if args.command == "init":
        root, issuing = store.init(args.organization)
        where = f"the root key is {store.layout.root_key}: move it offline"
        if args.offline_root is not None:
            where = f"the root key is {offline.move_root_offline(store.layout, args.offline_root)}"
        return [
            f"root CA: {root.subject.rfc4514_string()} (until {root.not_valid_after_utc:%Y-%m-%d})",
            f"issuing CA: {issuing.subject.rfc4514_string()} (online, in the data dir)",
            f"{where} (needed again only for 'rotate begin' and renewing the issuing CA)",
        ]
    if args.command == "audit-key":
        with store.locked():
            cert = offline.sign_audit_request(
                store.layout,
                store.issuing(),
                store.passphrase(),
                args.request,
                old_key_to=args.old_key_to,
            )
        return [
            f"audit recipient certified: {store.layout.audit_cert} (fingerprint "
            f"{fingerprint(cert)[:16]}…); this host holds no audit private key",
            "restart the broker so agents get the new recipient",
        ]
    if args.command == "move-keys":
        with store.locked():
            moved = offline.move_keys_out(store.layout, store.passphrase(), args.to)
        return [f"moved out: {p}" for p in moved] or ["nothing to move: no private key left"]
    if args.command == "issue":
        return _issue(store, args)
    if args.command == "list":
        return _list(store, args.json)
    if args.command == "revoke":
        rec = store.revoke(args.serial, args.reason)
        return [f"revoked {rec.serial} ({rec.common_name}); CRL republished at {store.layout.crl}"]
    if args.command == "crl":
        written = store.publish_crl(force=args.force)
        return [f"CRL {'re-signed' if written else 'is current'}: {store.layout.crl}"]
    if args.command == "rotate":
        return _rotate(store, args)
    with store.locked():
        path = store.write_enrollment(args.broker_url, args.out)
    return [f"enrollment file: {path}"]


def main(argv: Sequence[str] | None = None, *, environ: Mapping[str, str] | None = None) -> int:
    """Entry point of ``clearpane certs``; returns the exit status."""
    parser = _parser()
    try:
        args = parser.parse_args(list(sys.argv[1:] if argv is None else argv))
    except SystemExit as exc:
        return int(exc.code or 0)
    try:
        lines = _run(args, os.environ if environ is None else environ)
    except CertError as exc:
        print(f"clearpane certs: {exc}", file=sys.stderr)
        return 1
    except (AuditError, OSError) as exc:  # the audit log could not be written, a disk error
        print(f"clearpane certs: {exc}", file=sys.stderr)
        return 1
    for line in lines:
        print(line)
    return 0
