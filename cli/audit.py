"""``clearpane audit``: export and verify session evidence (G10).

::

    clearpane audit export SESSION --data-dir D -o FILE [--client-copy DIR|LOG] [--client-checkpoint CP]
    clearpane audit verify BUNDLE [--client-copy DIR|LOG] [--client-checkpoint CP] [--ca ROOT.pem] [--recording FILE]
    clearpane audit reviewer-key --data-dir D -o FILE
    clearpane audit verify-summary FILE --ca ROOT.pem

``verify`` prints VALID or INVALID with every problem (file, line, seq, reason) and
exits 0 when valid, 1 when not, 2 when the input is not a bundle at all. With the
client's copy (the agent's session folder, or its ``broker.jsonl``) it names every
missing, extra, reordered, duplicated or differing record and classifies the pair:
identical, complete prefix (exit 0), gap or diverged (exit 1).
``verify-summary`` checks a signed session summary (``GET /api/v1/sessions/{id}/summary``
or a ``session.summary`` webhook's ``data``): the Ed25519 signature over its canonical
JSON and the signer's certificate chain to ``--ca`` (checkpoint-signer EKU); VALID (0)
or INVALID with the reason (1), 2 for a file that is not JSON.
``reviewer-key`` writes the audit-recipient private key in the form the replay page
loads (docs/evidence.md says who may hold it).
"""

from __future__ import annotations

import argparse
import base64
import getpass
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.bundle import BundleError, export_bundle, verify_bundle
from certs.verify import verify_checkpoint_signer

__all__ = ["main"]

REVIEWER_KEY_TYPE = "clearpane-audit-key"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clearpane audit", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    exp = sub.add_parser("export", help="write a session's evidence bundle")
    exp.add_argument("session", help="session id")
    exp.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("CLEARPANE_DATA_DIR", "clearpane-data")),
    )
    exp.add_argument("-o", "--output", type=Path, required=True, help="bundle file to write")
    exp.add_argument(
        "--client-copy",
        type=Path,
        help="the client's copy to include (agent session folder or file)",
    )
    exp.add_argument("--client-checkpoint", type=Path, help="the checkpoint the client kept")
    ver = sub.add_parser("verify", help="verify an evidence bundle")
    ver.add_argument("bundle", type=Path)
    ver.add_argument(
        "--client-copy", type=Path, help="the client's copy (agent session folder or file)"
    )
    ver.add_argument("--client-checkpoint", type=Path, help="the checkpoint the client kept")
    ver.add_argument("--ca", type=Path, help="the organisation root certificate you trust")
    ver.add_argument("--recording", type=Path, help="a recording.cprec (or its folder) to check")
    summ = sub.add_parser("verify-summary", help="verify a signed session summary")
    summ.add_argument("file", type=Path, help="the summary JSON ({summary, signature})")
    summ.add_argument(
        "--ca", type=Path, required=True, help="the organisation root certificate you trust"
    )
    key = sub.add_parser("reviewer-key", help="export the audit-recipient key for reviewers")
    key.add_argument(
        "--data-dir",
        type=Path,
        default=Path(os.environ.get("CLEARPANE_DATA_DIR", "clearpane-data")),
    )
    key.add_argument("-o", "--output", type=Path, required=True)
    return parser


def _passphrase(ca: Path) -> bytes | None:
    from certs.bootstrap import passphrase_from_env

    passphrase = passphrase_from_env(os.environ)
    if passphrase is None and (ca / "passphrase").exists():
        passphrase = (ca / "passphrase").read_bytes().strip()
    return passphrase


def _signing_key(data_dir: Path) -> ed25519.Ed25519PrivateKey | None:
    """The broker's checkpoint key, if this user can read it (else the export record is
    chained but signed only by the next review-log checkpoint)."""
    from certs.errors import CertError
    from certs.keys import load_private_key

    ca = data_dir / "ca"
    try:
        key = load_private_key(ca / "checkpoint.key", _passphrase(ca))
    except (CertError, OSError):
        return None
    return key if isinstance(key, ed25519.Ed25519PrivateKey) else None


def _reviewer_key(data_dir: Path, output: Path) -> int:
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import x25519

    from certs.keys import load_certificate, load_private_key
    from certs.verify import fingerprint

    ca = data_dir / "ca"
    key = load_private_key(ca / "audit.key", _passphrase(ca))
    if not isinstance(key, x25519.X25519PrivateKey):
        print("the audit key is not X25519", file=sys.stderr)
        return 2
    cert = load_certificate(ca / "audit.pem")
    raw = key.private_bytes(
        serialization.Encoding.Raw,
        serialization.PrivateFormat.Raw,
        serialization.NoEncryption(),
    )
    doc = {
        "type": REVIEWER_KEY_TYPE,
        "fingerprint": fingerprint(cert),
        "x25519_private": base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii"),
    }
    fd = os.open(output, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(doc, f)
        f.write("\n")
    print(f"wrote the audit-recipient key ({doc['fingerprint'][:16]}…) to {output}")
    return 0


def _verify_summary(path: Path, ca: Path) -> int:
    from cryptography import x509

    from audit.summary import SummaryError, verify_summary
    from certs.errors import CertError

    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        print(f"clearpane audit: {path} is not JSON: {exc}", file=sys.stderr)
        return 2
    if isinstance(document, dict) and "data" in document and "summary" not in document:
        document = document["data"]  # a whole webhook body
    try:
        signed = verify_summary(document)
        roots = x509.load_pem_x509_certificates(ca.read_bytes())
        verify_checkpoint_signer(signed.certificate, signed.intermediates, roots)
    except (SummaryError, CertError, ValueError) as exc:
        print(f"INVALID: {exc}")
        return 1
    s = signed.summary
    print(
        f"VALID: session {s.get('session_id')} summary, signed by "
        f"{signed.certificate.subject.rfc4514_string()}"
    )
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``clearpane audit``; returns the exit status."""
    args = _parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    try:
        if args.command == "export":
            out = export_bundle(
                args.data_dir,
                args.session,
                args.output,
                client_copy=args.client_copy,
                client_checkpoint=args.client_checkpoint,
                actor=f"cli:{getpass.getuser()}",
                signing_key=_signing_key(args.data_dir),
            )
            print(f"wrote {out}")
            return 0
        if args.command == "verify":
            report = verify_bundle(
                args.bundle,
                ca=args.ca,
                client_copy=args.client_copy,
                recording=args.recording,
                client_checkpoint=args.client_checkpoint,
                signer_check=verify_checkpoint_signer,
            )
            print(report)
            return 0 if report.ok else 1
        if args.command == "verify-summary":
            return _verify_summary(args.file, args.ca)
        return _reviewer_key(args.data_dir, args.output)
    except BundleError as exc:
        print(f"clearpane audit: {exc}", file=sys.stderr)
        return 2
    except OSError as exc:
        print(f"clearpane audit: {exc}", file=sys.stderr)
        return 2
