"""End-to-end encryption between agent and viewer (SPEC §8, guarantee G8).

Owns the per-viewer key agreement with commitment (§8.1), the verification code,
the content keys and epochs with their wraps for viewers and for the audit
recipient (§8.2), and the sealing/opening of screen updates and input batches
(§4.1, §4.2, §8.3). The broker only ever sees ciphertext and the clear headers.

Sans-I/O: standard library and ``cryptography`` only; never reads the clock.
``viewer/js/e2e.js`` implements the same construction in WebCrypto and
``tests/protocol/vectors/e2e.json`` proves both agree.

Nonce safety is structural: sealers own their counter and no API lets a caller
choose a seq, so a (key, nonce) pair can never repeat. Openers accept a frame
only if it is newer than the last accepted one and change no state when a frame
fails to authenticate.
"""

from protocol.e2e.agreement import (
    AgentKeyAgreement,
    PeerKeys,
    ViewerKeyAgreement,
    commitment_of,
    derive_peer_keys,
    format_code,
    transcript_hash,
)
from protocol.e2e.base import (
    AUDIT_LABEL,
    INPUT_HEADER_LEN,
    KIND_INPUT,
    KIND_SCREEN_UPDATE,
    PURPOSE_INPUT,
    PURPOSE_SCREEN,
    SCREEN_HEADER_LEN,
    E2EError,
    input_header,
    screen_header,
    viewer_number,
)
from protocol.e2e.frames import FrameOpener, FrameSealer, InputOpener, InputSealer
from protocol.e2e.keys import (
    AuditWrap,
    ContentKeyring,
    unwrap_content_key,
    unwrap_for_audit,
    wrap_content_key,
    wrap_for_audit,
    wrap_for_audit_key,
)

__all__ = [
    "AUDIT_LABEL",
    "INPUT_HEADER_LEN",
    "KIND_INPUT",
    "KIND_SCREEN_UPDATE",
    "PURPOSE_INPUT",
    "PURPOSE_SCREEN",
    "SCREEN_HEADER_LEN",
    "AgentKeyAgreement",
    "AuditWrap",
    "ContentKeyring",
    "E2EError",
    "FrameOpener",
    "FrameSealer",
    "InputOpener",
    "InputSealer",
    "PeerKeys",
    "ViewerKeyAgreement",
    "commitment_of",
    "derive_peer_keys",
    "format_code",
    "input_header",
    "screen_header",
    "transcript_hash",
    "unwrap_content_key",
    "unwrap_for_audit",
    "viewer_number",
    "wrap_content_key",
    "wrap_for_audit",
    "wrap_for_audit_key",
]
