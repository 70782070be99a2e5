"""Evidence bundles: export, verify, and every kind of tampering named exactly."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric import ed25519

from audit.bundle import (
    CHECKPOINTS,
    LOG,
    BundleError,
    export_bundle,
    rewrite_member,
    verify_bundle,
)
from audit.chain import AuditChain, Record
from audit.checkpoint import sign_checkpoint
from audit.testing import DEFAULT_EVENTS, write_session_log
from certs.bootstrap import BrokerPki, ensure_broker_pki
from certs.verify import verify_checkpoint_signer

SID = "sess-42"


@pytest.fixture
def pki(tmp_path: Path) -> BrokerPki:
    return ensure_broker_pki(tmp_path / "data", ["localhost"], ["127.0.0.1"], b"pw")


@pytest.fixture
def bundle(tmp_path: Path, pki: BrokerPki) -> Path:
    data = tmp_path / "data"
    write_session_log(data, SID, pki.signing_key)
    return export_bundle(data, SID, tmp_path / "evidence.zip", now_ms=1)


def _lines(bundle: Path, name: str) -> list[bytes]:
    import zipfile

    with zipfile.ZipFile(bundle) as zf:
        return zf.read(name).splitlines()


def _put(bundle: Path, name: str, lines: list[bytes]) -> None:
    rewrite_member(bundle, name, b"".join(line + b"\n" for line in lines))


def _only(report_text: str) -> str:
    assert report_text.startswith("INVALID"), report_text
    return report_text


def test_an_untouched_bundle_verifies(bundle: Path) -> None:
    report = verify_bundle(bundle, signer_check=verify_checkpoint_signer)
    assert report.ok, str(report)
    assert report.records == len(DEFAULT_EVENTS)
    assert report.sealed_seq == len(DEFAULT_EVENTS)
    assert str(report).startswith("VALID")


def test_an_edited_record_is_named_with_its_line_and_seq(bundle: Path) -> None:
    lines = _lines(bundle, LOG)
    rec = json.loads(lines[5])
    rec["detail"] = {"length": 999}
    lines[5] = json.dumps(rec).encode()
    _put(bundle, LOG, lines)
    report = verify_bundle(bundle, signer_check=verify_checkpoint_signer)
    assert not report.ok
    first = report.findings[0]
    assert (first.file, first.line, first.seq, first.reason) == (LOG, 6, 6, "edited")
    assert "log.jsonl line 6 (seq 6): edited" in _only(str(report))


def test_reordered_records_are_detected(bundle: Path) -> None:
    lines = _lines(bundle, LOG)
    lines[3], lines[4] = lines[4], lines[3]
    _put(bundle, LOG, lines)
    first = verify_bundle(bundle, signer_check=verify_checkpoint_signer).findings[0]
    assert (first.line, first.seq, first.reason) == (4, 5, "reordered")


def test_a_dropped_record_is_detected(bundle: Path) -> None:
    lines = _lines(bundle, LOG)
    del lines[2]
    _put(bundle, LOG, lines)
    first = verify_bundle(bundle, signer_check=verify_checkpoint_signer).findings[0]
    assert (first.line, first.seq, first.reason) == (3, 4, "dropped")


def test_a_truncated_log_is_detected(bundle: Path) -> None:
    _put(bundle, LOG, _lines(bundle, LOG)[:-3])
    reasons = {
        f.reason for f in verify_bundle(bundle, signer_check=verify_checkpoint_signer).findings
    }
    assert "truncated" in reasons


def test_a_truncated_log_with_its_later_checkpoints_removed_is_not_final(bundle: Path) -> None:
    # Cut the log back to seq 8 and keep only the checkpoint of seq 8: every
    # signature holds, but that checkpoint was not the final one.
    _put(bundle, LOG, _lines(bundle, LOG)[:8])
    cps = [c for c in _lines(bundle, CHECKPOINTS) if json.loads(c)["seq"] <= 8]
    _put(bundle, CHECKPOINTS, cps)
    report = verify_bundle(bundle, signer_check=verify_checkpoint_signer)
    assert [f.reason for f in report.findings] == ["not_final"]


def test_an_appended_record_is_unsealed(bundle: Path) -> None:
    lines = _lines(bundle, LOG)
    chain = AuditChain([Record.from_dict(json.loads(x)) for x in lines])
    extra = chain.append("chat.sent", "user:eng", {"length": 3}, int(time.time() * 1000))
    _put(bundle, LOG, [*lines, extra.to_json().encode()])
    report = verify_bundle(bundle, signer_check=verify_checkpoint_signer)
    assert [(f.seq, f.reason) for f in report.findings] == [(len(lines) + 1, "unsealed")]


def test_a_rewritten_history_breaks_the_checkpoints(bundle: Path) -> None:
    # Edit record 3 and re-hash everything after it: the chain is consistent again,
    # but the signed hashes no longer match.
    records = [json.loads(x) for x in _lines(bundle, LOG)]
    chain = AuditChain()
    for r in records:
        detail = {"length": 1} if r["seq"] == 3 else r["detail"]
        chain.append(r["event"], r["actor"], detail, r["at_ms"])
    _put(bundle, LOG, [r.to_json().encode() for r in chain.records])
    reasons = {
        f.reason for f in verify_bundle(bundle, signer_check=verify_checkpoint_signer).findings
    }
    assert "checkpoint_mismatch" in reasons


def test_a_forged_checkpoint_is_detected(bundle: Path) -> None:
    records = [Record.from_dict(json.loads(x)) for x in _lines(bundle, LOG)]
    chain = AuditChain(records)
    other = ed25519.Ed25519PrivateKey.generate()
    forged = sign_checkpoint(other, SID, chain.head, int(time.time() * 1000)).to_dict()
    _put(bundle, CHECKPOINTS, [*_lines(bundle, CHECKPOINTS), json.dumps(forged).encode()])
    report = verify_bundle(bundle, signer_check=verify_checkpoint_signer)
    finding = report.findings[0]
    assert (finding.file, finding.reason) == (CHECKPOINTS, "forged")
    assert finding.line == len(_lines(bundle, CHECKPOINTS))


def test_a_tampered_signature_is_forged(bundle: Path) -> None:
    cps = _lines(bundle, CHECKPOINTS)
    cp = json.loads(cps[-1])
    cp["at_ms"] += 1
    cps[-1] = json.dumps(cp).encode()
    _put(bundle, CHECKPOINTS, cps)
    assert (
        next(
            f.reason for f in verify_bundle(bundle, signer_check=verify_checkpoint_signer).findings
        )
        == "forged"
    )


def test_a_checkpoint_replayed_from_another_session_is_detected(
    tmp_path: Path, pki: BrokerPki, bundle: Path
) -> None:
    data = tmp_path / "data"
    write_session_log(data, "other-session", pki.signing_key)
    foreign = (data / "sessions" / "other-session" / CHECKPOINTS).read_bytes().splitlines()[-1]
    _put(bundle, CHECKPOINTS, [*_lines(bundle, CHECKPOINTS), foreign])
    finding = verify_bundle(bundle, signer_check=verify_checkpoint_signer).findings[0]
    assert finding.reason == "wrong_session"


def test_a_checkpoint_replayed_within_the_bundle_is_detected(bundle: Path) -> None:
    cps = _lines(bundle, CHECKPOINTS)
    _put(bundle, CHECKPOINTS, [*cps, cps[0]])
    finding = verify_bundle(bundle, signer_check=verify_checkpoint_signer).findings[0]
    assert (finding.reason, finding.line) == ("replayed", len(cps) + 1)


def test_a_signer_from_another_ca_is_rejected(tmp_path: Path, bundle: Path) -> None:
    other = ensure_broker_pki(tmp_path / "other", ["localhost"], ["127.0.0.1"], b"pw")
    report = verify_bundle(bundle, ca=other.ca_cert_path, signer_check=verify_checkpoint_signer)
    assert report.findings[0].reason == "forged"
    assert "signer certificate rejected" in report.findings[0].message


def test_the_clients_copy_is_compared(tmp_path: Path, pki: BrokerPki) -> None:
    data = tmp_path / "data"
    folder = write_session_log(data, SID, pki.signing_key)
    client = tmp_path / "client.jsonl"
    client.write_bytes((folder / LOG).read_bytes())
    out = export_bundle(data, SID, tmp_path / "b.zip", client_copy=client)
    report = verify_bundle(out, signer_check=verify_checkpoint_signer)
    assert report.ok and report.client_compared, str(report)
    # The broker's copy and checkpoints rewritten consistently with a new key would
    # still disagree with what the client holds.
    lines = client.read_bytes().splitlines()
    rec = json.loads(lines[6])
    rec["actor"] = "someone-else"
    lines[6] = json.dumps(rec).encode()
    client.write_bytes(b"\n".join(lines) + b"\n")
    report = verify_bundle(out, client_copy=client, signer_check=verify_checkpoint_signer)
    assert not report.ok
    assert any(
        f.file == "client.jsonl" and f.seq == 7 and f.reason == "edited" for f in report.findings
    )
    assert report.comparison is not None and report.comparison.verdict == "diverged"


def test_not_a_bundle(tmp_path: Path) -> None:
    junk = tmp_path / "junk.zip"
    junk.write_bytes(b"nope")
    with pytest.raises(BundleError):
        verify_bundle(junk, signer_check=verify_checkpoint_signer)


def test_export_refuses_an_unknown_session(tmp_path: Path, pki: BrokerPki) -> None:
    with pytest.raises(BundleError, match="no session log"):
        export_bundle(tmp_path / "data", "nope", tmp_path / "x.zip")
