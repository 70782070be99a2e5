"""Evidence: event model, hash-chained logs, signed checkpoints, verification (SPEC §9).

* :mod:`audit.canonical` — the canonical JSON every hash and signature covers;
* :mod:`audit.events` — dotted event names, numeric codes, who may emit each;
* :mod:`audit.chain` — :class:`Record`, :class:`AuditChain`, :func:`verify_chain`;
* :mod:`audit.checkpoint` — Ed25519-signed checkpoints and sealed-log verification;
* :mod:`audit.jsonl` — fsync'd JSONL files, reopen-and-continue, torn-tail detection;
* :mod:`audit.emitter` — small composable emitters (check → write → announce);
* :mod:`audit.compare` — the client's copy against the broker's copy (G10).

Builds on ``protocol`` (never on broker/agent). Used by the broker (the company's copy)
and by the agent (the client's copy); ``clearpane audit verify`` checks one against the
other.
"""

from audit.canonical import canonical_json
from audit.chain import AuditChain, ChainHead, Reason, Record, VerifyReport, verify_chain
from audit.checkpoint import (
    Checkpoint,
    key_id,
    load_checkpoint,
    sign_checkpoint,
    verify_checkpoint,
    verify_sealed_log,
)
from audit.compare import CompareReport, compare_copies, compare_files
from audit.emitter import CheckingEmitter, Emitter, FanoutEmitter, JsonlEmitter
from audit.errors import AuditError
from audit.jsonl import JsonlChainWriter

__all__ = [
    "AuditChain",
    "AuditError",
    "ChainHead",
    "CheckingEmitter",
    "Checkpoint",
    "CompareReport",
    "Emitter",
    "FanoutEmitter",
    "JsonlChainWriter",
    "JsonlEmitter",
    "Reason",
    "Record",
    "VerifyReport",
    "canonical_json",
    "compare_copies",
    "compare_files",
    "key_id",
    "load_checkpoint",
    "sign_checkpoint",
    "verify_chain",
    "verify_checkpoint",
    "verify_sealed_log",
]
