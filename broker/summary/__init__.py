"""The signed session summary (issue 18, docs/integrations.md §4): built from the
store and the session's hash-chained log (:mod:`.build`), signed with the broker's
checkpoint key (:func:`audit.summary.sign_summary`), served at
``GET /api/v1/sessions/{id}/summary`` and sent as the ``session.summary`` webhook
once the session ends (and again when the client rates it afterwards)."""

from broker.summary.build import build_summary, signed_summary

__all__ = ["build_summary", "signed_summary"]
