"""The tamper suite (G10, issue 13): every edit, deletion (at every position), reorder,
duplicate, insertion and truncation of records, and every forged checkpoint, in the
client's copy and in the broker's copy, is detected by ``verify_bundle`` and *named*
(file, seq, reason); an honest shorter client copy is classified as a complete prefix.

One signed session of 11 records (checkpoints at seq 4, 8, 11), exported once; each case
changes one copy and verifies the bundle against the pinned organisation root.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.bundle import CHECKPOINTS, LOG, BundleReport, rewrite_member, verify_bundle
from audit.chain import AuditChain, Record, record_hash
from audit.checkpoint import sign_checkpoint
from audit.testing import DEFAULT_EVENTS, write_session_log
from certs.bootstrap import BrokerPki, ensure_broker_pki
from certs.verify import verify_checkpoint_signer

SID = "tamper-1"
N = len(DEFAULT_EVENTS)  # 11
CLIENT = "client.jsonl"
POSITIONS = range(1, N + 1)

Lines = list[bytes]


class Evidence:
    """The genuine bundle and copies, and a scratch area per case."""

    def __init__(self, root: Path, pki: BrokerPki, bundle: Path, lines: Lines, cps: Lines) -> None:
        self.root, self.pki, self.bundle, self.lines, self.cps = root, pki, bundle, lines, cps

    def verify(
        self,
        tmp: Path,
        *,
        client: Lines | None = None,
        broker: Lines | None = None,
        checkpoints: Lines | None = None,
        client_cp: bytes | None = None,
    ) -> BundleReport:
        bundle = tmp / "case.zip"
        shutil.copy(self.bundle, bundle)
        if broker is not None:
            rewrite_member(bundle, LOG, b"".join(x + b"\n" for x in broker))
        if checkpoints is not None:
            rewrite_member(bundle, CHECKPOINTS, b"".join(x + b"\n" for x in checkpoints))
        copy = tmp / "client.jsonl"
        copy.write_bytes(b"".join(x + b"\n" for x in (self.lines if client is None else client)))
        kept = None
        if client_cp is not None:
            kept = tmp / "checkpoint.json"
            kept.write_bytes(client_cp)
        return verify_bundle(
            bundle,
            ca=self.pki.ca_cert_path,
            client_copy=copy,
            client_checkpoint=kept,
            signer_check=verify_checkpoint_signer,
        )


@pytest.fixture(scope="module")
def ev(tmp_path_factory: pytest.TempPathFactory) -> Evidence:
    from audit.bundle import export_bundle

    root = tmp_path_factory.mktemp("tamper")
    pki = ensure_broker_pki(root / "data", ["localhost"], ["127.0.0.1"], b"pw")
    folder = write_session_log(root / "data", SID, pki.signing_key)
    bundle = export_bundle(root / "data", SID, root / "genuine.zip", now_ms=1)
    lines = (folder / LOG).read_bytes().splitlines()
    cps = (folder / CHECKPOINTS).read_bytes().splitlines()
    return Evidence(root, pki, bundle, lines, cps)


def named(report: BundleReport, file: str, seq: int | None, *reasons: str) -> bool:
    """The report names ``file`` and ``seq`` with one of ``reasons``."""
    return any(f.file == file and f.seq == seq and f.reason in reasons for f in report.findings)


def verdict(report: BundleReport) -> str:
    assert report.comparison is not None
    return report.comparison.verdict.value


def edit(line: bytes, change: Callable[[dict[str, object]], None]) -> bytes:
    rec = json.loads(line)
    change(rec)
    return json.dumps(rec, sort_keys=True, separators=(",", ":")).encode()


def rechain(lines: Lines, at: int) -> Lines:
    """Edit record ``at``'s detail and re-hash everything from there: a consistent chain."""
    chain = AuditChain()
    for line in lines:
        r = json.loads(line)
        detail = {"forged": True} if r["seq"] == at else r["detail"]
        chain.append(r["event"], r["actor"], detail, r["at_ms"])
    return [r.to_json().encode() for r in chain.records]


COPIES = ("client", "broker")


def apply(ev: Evidence, tmp: Path, copy: str, lines: Lines) -> BundleReport:
    return ev.verify(tmp, **{copy: lines})  # type: ignore[arg-type]


def file_of(copy: str) -> str:
    return CLIENT if copy == "client" else LOG


def test_the_genuine_pair_is_identical(ev: Evidence, tmp_path: Path) -> None:
    report = ev.verify(tmp_path)
    assert report.ok, str(report)
    assert verdict(report) == "identical"
    assert "identical: both copies hold the same 11 records" in str(report)


# -- edits ------------------------------------------------------------------------------


@pytest.mark.parametrize("copy", COPIES)
@pytest.mark.parametrize("pos", POSITIONS)
def test_an_edit_keeping_the_old_hash_is_named(
    ev: Evidence, tmp_path: Path, copy: str, pos: int
) -> None:
    lines = list(ev.lines)
    lines[pos - 1] = edit(lines[pos - 1], lambda r: r.update(actor="user:mallory"))
    report = apply(ev, tmp_path, copy, lines)
    assert not report.ok and verdict(report) == "diverged"
    assert named(report, file_of(copy), pos, "edited"), str(report)
    assert named(report, CLIENT, pos, "differs"), str(report)


@pytest.mark.parametrize("copy", COPIES)
@pytest.mark.parametrize("pos", POSITIONS)
def test_an_edit_with_the_chain_rehashed_is_named(
    ev: Evidence, tmp_path: Path, copy: str, pos: int
) -> None:
    report = apply(ev, tmp_path, copy, rechain(ev.lines, pos))
    assert not report.ok and verdict(report) == "diverged"
    assert named(report, CLIENT, pos, "differs"), str(report)
    assert report.comparison is not None and report.comparison.common_seq == pos - 1
    if copy == "broker":  # the broker's own signatures no longer match its copy
        assert any(f.file == LOG and f.reason == "checkpoint_mismatch" for f in report.findings)
    else:  # the client's record is not the one the broker signed
        signed = pos in (4, 8, 11)
        assert not signed or "the broker's record is the one it signed" in str(report)


# -- deletions --------------------------------------------------------------------------


@pytest.mark.parametrize("pos", POSITIONS)
def test_a_record_deleted_from_the_clients_copy(ev: Evidence, tmp_path: Path, pos: int) -> None:
    lines = [x for i, x in enumerate(ev.lines, start=1) if i != pos]
    report = ev.verify(tmp_path, client=lines)
    if pos < N:  # issue 13, finding 1: this used to pass as VALID
        assert not report.ok and verdict(report) == "gap", str(report)
        assert named(report, CLIENT, pos, "missing"), str(report)
        assert "lost in transit or removed" in str(report)
    else:  # the last one: indistinguishable from an honest copy that ends early
        assert report.ok and verdict(report) == "prefix", str(report)
        assert f"later: seq {N} session.ended" in str(report)


@pytest.mark.parametrize("pos", POSITIONS)
def test_a_record_deleted_from_the_brokers_copy(ev: Evidence, tmp_path: Path, pos: int) -> None:
    lines = [x for i, x in enumerate(ev.lines, start=1) if i != pos]
    report = ev.verify(tmp_path, broker=lines)
    assert not report.ok and verdict(report) == "diverged"
    if pos < N:
        assert named(report, LOG, pos, "missing", "dropped"), str(report)
        assert f"the client copy holds {pos} " in str(report)
    else:
        assert named(report, CLIENT, pos, "extra"), str(report)


@pytest.mark.parametrize("copy", COPIES)
@pytest.mark.parametrize("pos", [1, 5, 9])
def test_several_records_deleted_are_each_named(
    ev: Evidence, tmp_path: Path, copy: str, pos: int
) -> None:
    lines = [x for i, x in enumerate(ev.lines, start=1) if i not in (pos, pos + 1)]
    report = apply(ev, tmp_path, copy, lines)
    assert not report.ok
    assert named(report, file_of(copy), pos, "missing", "dropped"), str(report)


# -- reorders, duplicates, insertions ---------------------------------------------------


@pytest.mark.parametrize("copy", COPIES)
@pytest.mark.parametrize("pos", range(1, N))
def test_two_records_swapped_are_named_reordered(
    ev: Evidence, tmp_path: Path, copy: str, pos: int
) -> None:
    lines = list(ev.lines)
    lines[pos - 1], lines[pos] = lines[pos], lines[pos - 1]
    report = apply(ev, tmp_path, copy, lines)
    assert not report.ok and verdict(report) == "diverged"
    assert named(report, file_of(copy), pos, "reordered") or named(
        report, file_of(copy), pos + 1, "reordered"
    ), str(report)


@pytest.mark.parametrize("copy", COPIES)
def test_a_record_moved_far_is_named_reordered(ev: Evidence, tmp_path: Path, copy: str) -> None:
    lines = [ev.lines[-2], *ev.lines[:-2], ev.lines[-1]]  # seq 10 moved to the front
    report = apply(ev, tmp_path, copy, lines)
    assert not report.ok and named(report, file_of(copy), N - 1, "reordered"), str(report)
    assert sum(f.reason == "reordered" for f in report.findings if f.file == file_of(copy)) == 1


@pytest.mark.parametrize("copy", COPIES)
@pytest.mark.parametrize("pos", POSITIONS)
def test_a_duplicated_record_is_named(ev: Evidence, tmp_path: Path, copy: str, pos: int) -> None:
    lines = list(ev.lines)
    lines.insert(pos, ev.lines[pos - 1])
    report = apply(ev, tmp_path, copy, lines)
    assert not report.ok and verdict(report) == "diverged"
    assert named(report, file_of(copy), pos, "duplicated", "reordered"), str(report)


@pytest.mark.parametrize("copy", COPIES)
@pytest.mark.parametrize("pos", [1, 6, N])
def test_an_inserted_record_is_named(ev: Evidence, tmp_path: Path, copy: str, pos: int) -> None:
    # A fabricated, self-consistent record with the seq of a genuine one, placed before it.
    body = json.loads(ev.lines[pos - 1])
    body["detail"] = {"text": "I never said that"}
    body["hash"] = record_hash(body)
    lines = list(ev.lines)
    lines.insert(pos - 1, json.dumps(body, sort_keys=True, separators=(",", ":")).encode())
    report = apply(ev, tmp_path, copy, lines)
    assert not report.ok and verdict(report) == "diverged"
    assert named(report, file_of(copy), pos, "duplicated"), str(report)


@pytest.mark.parametrize("copy", COPIES)
def test_a_record_appended_is_named(ev: Evidence, tmp_path: Path, copy: str) -> None:
    chain = AuditChain([Record.from_dict(json.loads(x)) for x in ev.lines])
    extra = chain.append("chat.sent", "user:eng", {"length": 3}, int(time.time() * 1000))
    report = apply(ev, tmp_path, copy, [*ev.lines, extra.to_json().encode()])
    assert not report.ok
    if copy == "client":
        assert verdict(report) == "diverged"
        assert named(report, CLIENT, N + 1, "extra"), str(report)
    else:  # the client's copy is a prefix of it, but nothing signs the extra record
        assert verdict(report) == "prefix"
        assert named(report, LOG, N + 1, "unsealed"), str(report)
        assert "NOT covered by any signed checkpoint" in str(report)


# -- truncation -------------------------------------------------------------------------


@pytest.mark.parametrize("keep", range(N))
def test_an_honest_shorter_client_copy_is_a_complete_prefix(
    ev: Evidence, tmp_path: Path, keep: int
) -> None:
    report = ev.verify(tmp_path, client=ev.lines[:keep])
    assert report.ok, str(report)
    assert verdict(report) == "prefix"
    assert f"a complete prefix ending at seq {keep}" in str(report)
    cmp = report.comparison
    assert cmp is not None and [r.seq for r in cmp.later] == list(range(keep + 1, N + 1))
    # each is covered by the first checkpoint at or after it (seq 4, 8 and the final 11)
    assert [r.signed_by for r in cmp.later] == [
        next(c for c in (4, 8, N) if c >= r.seq) for r in cmp.later
    ]


@pytest.mark.parametrize("keep", range(1, N))
def test_a_truncated_broker_copy_is_named(ev: Evidence, tmp_path: Path, keep: int) -> None:
    report = ev.verify(tmp_path, broker=ev.lines[:keep])
    assert not report.ok and verdict(report) == "diverged"
    assert named(report, CLIENT, keep + 1, "extra"), str(report)
    assert any(f.file == LOG and f.reason in ("truncated", "not_final") for f in report.findings)


def test_a_torn_last_line_is_named(ev: Evidence, tmp_path: Path) -> None:
    copy = tmp_path / "client.jsonl"
    copy.write_bytes(b"\n".join(ev.lines) + b"\n" + ev.lines[0][:20])
    report = verify_bundle(
        ev.bundle, ca=ev.pki.ca_cert_path, client_copy=copy, signer_check=verify_checkpoint_signer
    )
    assert any(f.file == CLIENT and f.reason in ("truncated", "malformed") for f in report.findings)


def test_prefix_records_not_covered_by_a_signature_say_so(ev: Evidence, tmp_path: Path) -> None:
    # Only the checkpoints at seq 4 and 8 survive; the log itself still ends at 11.
    report = ev.verify(tmp_path, client=ev.lines[:6], checkpoints=ev.cps[:2])
    cmp = report.comparison
    assert cmp is not None and cmp.verdict == "prefix"
    assert [r.signed_by for r in cmp.later] == [8, 8, None, None, None]
    assert "seq 9 onwards rest on the broker's word alone" in cmp.conclusion


# -- forged checkpoints -----------------------------------------------------------------


def test_a_forged_broker_checkpoint_is_named(ev: Evidence, tmp_path: Path) -> None:
    other = ed25519.Ed25519PrivateKey.generate()
    chain = AuditChain([Record.from_dict(json.loads(x)) for x in ev.lines])
    forged = json.dumps(sign_checkpoint(other, SID, chain.head, int(time.time() * 1000)).to_dict())
    report = ev.verify(tmp_path, checkpoints=[*ev.cps, forged.encode()])
    assert named(report, CHECKPOINTS, N, "forged"), str(report)


def test_a_rewritten_broker_copy_resigned_by_an_impostor_is_named(
    ev: Evidence, tmp_path: Path
) -> None:
    other = ed25519.Ed25519PrivateKey.generate()
    lines = rechain(ev.lines, 3)
    head = AuditChain([Record.from_dict(json.loads(x)) for x in lines]).head
    cp = json.dumps(sign_checkpoint(other, SID, head, int(time.time() * 1000)).to_dict())
    report = ev.verify(tmp_path, broker=lines, checkpoints=[cp.encode()])
    assert named(report, CHECKPOINTS, N, "forged") and named(report, CLIENT, 3, "differs")


def test_a_broker_that_rewrote_and_resigned_is_caught_by_the_clients_checkpoint(
    ev: Evidence, tmp_path: Path
) -> None:
    # The broker holds the real key: it rewrites seq 3 onwards and signs the new head.
    # The checkpoint the client kept (genuine, seq 11) contradicts the rewritten copy.
    lines = rechain(ev.lines, 3)
    head = AuditChain([Record.from_dict(json.loads(x)) for x in lines]).head
    cp = sign_checkpoint(ev.pki.signing_key, SID, head, int(time.time() * 1000)).to_dict()
    resigned = json.dumps(cp, sort_keys=True).encode()
    report = ev.verify(
        tmp_path, client=ev.lines[:11], broker=lines, checkpoints=[resigned], client_cp=ev.cps[-1]
    )
    assert not report.ok and verdict(report) == "diverged"
    assert named(report, LOG, N, "checkpoint_mismatch"), str(report)
    assert "rewritten after signing" in str(report)
    assert named(report, CLIENT, 3, "differs")


@pytest.mark.parametrize(
    "change",
    [
        lambda c: c.update(at_ms=c["at_ms"] + 1),  # signature no longer matches
        lambda c: c.update(session_id="another-session"),
        lambda c: c.update(seq=5),
    ],
    ids=["signature", "session", "seq"],
)
def test_a_forged_client_checkpoint_is_named(
    ev: Evidence, tmp_path: Path, change: Callable[[dict[str, object]], None]
) -> None:
    report = ev.verify(tmp_path, client_cp=edit(ev.cps[-1], change))
    assert not report.ok
    assert any(
        f.file == "client-checkpoint.json" and f.reason in ("forged", "wrong_session")
        for f in report.findings
    ), str(report)


def test_an_old_checkpoint_presented_as_final_is_named(ev: Evidence, tmp_path: Path) -> None:
    report = ev.verify(tmp_path, broker=ev.lines[:8], checkpoints=ev.cps[:2])
    assert any(f.file == LOG and f.reason == "not_final" for f in report.findings), str(report)
    assert named(report, CLIENT, 9, "extra")


def test_a_checkpoint_replayed_from_another_session_is_named(ev: Evidence, tmp_path: Path) -> None:
    write_session_log(ev.root / "data", "other", ev.pki.signing_key)
    foreign = (ev.root / "data" / "sessions" / "other" / CHECKPOINTS).read_bytes().splitlines()
    report = ev.verify(tmp_path, checkpoints=[*ev.cps, foreign[-1]])
    assert any(f.file == CHECKPOINTS and f.reason == "wrong_session" for f in report.findings)
    report = ev.verify(tmp_path, client_cp=foreign[-1])
    assert any(
        f.file == "client-checkpoint.json" and f.reason == "wrong_session" for f in report.findings
    )
