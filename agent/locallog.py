"""The client's own copy of the session log (G7, G10).

Everything the client should see goes through here: every ``log.event`` record the
broker sends (the company's chain, kept verbatim so it can be verified) and every
action the agent itself takes (consent answers, input applied, pause, masks, kill).
Files, under ``<log_dir>/<session_id>/`` (default
``~/.local/share/clearpane/sessions/<session_id>/``):

- ``client.jsonl`` — the client's own hash chain (``audit.chain``), fsync'd: local
  actions plus a reference (seq, hash, event) to every broker record received;
- ``broker.jsonl`` — the broker's records exactly as received;
- ``checkpoint.json`` — the broker's signed checkpoint at the end.

At the end ``verify(checkpoint)`` checks the broker's chain, that its head is the
signed checkpoint, and the client's own chain, and says in plain words what differs.
Listeners get a ``LogLine`` for the live view within the same loop iteration.
"""

from __future__ import annotations

import json
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric import ed25519

from agent.i18n import _, ngettext
from agent.observer import LogLine, LogVerification
from audit.chain import Record, verify_chain
from audit.checkpoint import Checkpoint, verify_checkpoint
from audit.errors import CheckpointError
from audit.jsonl import JsonlChainWriter

#: Where session logs go unless configured otherwise.
DEFAULT_LOG_ROOT = Path("~/.local/share/clearpane/sessions")


#: Plain words for every event of ``audit.events`` that can reach the live log (display
#: only: the records themselves are never changed). Unknown events fall back to
#: :func:`_readable`.
def _phrases() -> dict[str, str]:
    """Built at each call: the words follow the language in use."""
    return {
        "session.requested": _("You asked for help"),
        "session.started": _("The help session started"),
        "session.paused": _("You paused screen sharing: nothing is being sent"),
        "session.resumed": _("You resumed screen sharing"),
        "session.ended": _("The session ended"),
        "session.escalated": _("Your request was passed to a supervisor so it is answered sooner"),
        "session.reconnected": _("Reconnected: the connection came back"),
        "session.interrupted": _("The connection dropped; trying to reconnect"),
        "session.reattached": _("Reconnected after the help desk restarted"),
        "kill.triggered": _("You stopped everything with the Stop button"),
        "viewer.joined": _("joined"),
        "viewer.left": _("left"),
        "consent.requested": _("asked for permission"),
        "permission.requested": _("asked for permission"),
        "consent.granted": _("Permission given"),
        "consent.denied": _("Permission refused"),
        "consent.revoked": _("Permission taken back"),
        "permission.released": _("gave a permission back"),
        "session.transferred": _("The session was handed over to another engineer"),
        "session.transfer_refused": _("The session stays with the same engineer"),
        "input.applied": _("used your mouse and keyboard"),
        "input.dropped": _("Mouse and keyboard input was not applied"),
        "input.forwarded": _("The engineer's mouse and keyboard input was passed on"),
        "chat.sent": _("Chat message"),
        "mask.changed": _("You changed what is hidden from the engineer"),
        "screen.refreshed": _("The engineer's view of your screen was refreshed"),
        "call.requested": _("asks for a video call"),
        "call.started": _("Video call started"),
        "call.ended": _("Video call ended"),
        "key.exchanged": _("Secure connection set up"),
        "key.epoch": _("The encryption key was renewed"),
        "audit.wrapped": _("Recording key shared with your company's quality reviewers"),
        "audit.recipient_rejected": _(
            "The quality reviewers' certificate could not be checked: they get no recording key"
        ),
        "checkpoint.signed": _("Your company sealed and signed the session record"),
        "replay.viewed": _("A reviewer watched the session recording"),
        "rating.given": _("You rated the help"),
        "log.verified": _("This computer checked the company's signed record"),
        "recording.deleted": _("The session recording was deleted"),
        "log.exported": _("The session record was exported"),
        "recording.paused": _("The company's recording stopped: nothing of your screen is shown"),
        "recording.resumed": _("The company's recording works again: screen sharing resumed"),
        "recording.unavailable": _("Not recorded: your organisation allows the session to go on"),
        "recording.sealed": _("The session recording was sealed"),
        "broker.record": _("Entry received from your company"),
    }


#: What a permission means, for sentences ("… asks to see your screen").
def _permission_words() -> dict[str, str]:
    return {
        "view": _("see your screen"),
        "control": _("use your mouse and keyboard"),
        "video": _("start a video call"),
    }


#: Why a session ended, in plain words.
def _end_reasons() -> dict[str, str]:
    return {
        "killed_by_client": _("you stopped it"),
        "ended_by_engineer": _("the engineer ended it"),
        "ended_by_client": _("you ended it"),
        "denied": _("access was refused"),
        "timed_out": _("nobody answered in time"),
        "broker_shutdown": _("the help desk service shut down"),
        "agent_gone": _("this computer lost the connection"),
    }


NameLookup = Callable[[str], "str | None"]


def _readable(name: str) -> str:
    """An unknown dotted event name as words: ``"foo.bar_baz"`` -> ``"Foo bar baz"``."""
    words = " ".join(part for part in re.split(r"[._\-]+", name) if part)
    return words[:1].upper() + words[1:] if words else _("Something happened")


def _perm_list(value: Any) -> list[str]:
    if isinstance(value, (list, tuple)):
        return [str(v) for v in value]
    return [p.strip() for p in str(value).split(",") if p.strip()]


def _perms(value: Any) -> str:
    """Permissions as a phrase: ``["view", "control"]`` -> "see your screen and use …"."""
    table = _permission_words()
    words = [table.get(p, _readable(p).lower()) for p in _perm_list(value)]
    if not words:
        return _("do nothing yet")
    if len(words) == 1:
        return words[0]
    return _("{first} and {last}", first=", ".join(words[:-1]), last=words[-1])


def describe(
    event: str, actor: str, detail: Mapping[str, Any], names: NameLookup | None = None
) -> str:
    """A short sentence in plain words for the live log, naming people by their verified
    names (never shows typed characters: the records do not contain them)."""
    phrase = _phrases().get(event) or _readable(event)
    who = str(detail.get("name") or "")
    if not who and names is not None:
        for key in (str(detail.get("viewer_id") or ""), actor):
            found = names(key) if key else None
            if found:
                who = found
                break
    if not who:
        if detail.get("viewer_id") or actor.startswith(("engineer", "observer", "viewer")):
            who = _("The engineer")
        elif actor == "client":
            who = _("You")
        else:
            who = _("The help desk")
    perms = _perms(detail.get("permissions", ""))
    if event == "input.applied":
        bits = []
        if detail.get("clicks"):
            bits.append(ngettext("{n} click", "{n} clicks", int(detail["clicks"])))
        if detail.get("keys"):
            bits.append(ngettext("{n} key typed", "{n} keys typed", int(detail["keys"])))
        if detail.get("scrolls"):
            bits.append(ngettext("{n} scroll", "{n} scrolls", int(detail["scrolls"])))
        if detail.get("special"):
            bits.append(str(detail["special"]))
        return _(
            "{who} used your mouse/keyboard: {what}",
            who=who,
            what=", ".join(bits) or _("pointer moved"),
        )
    if event == "input.dropped":
        return input_dropped_text(who, str(detail.get("reason", "")))
    if event == "viewer.joined":
        return _("{who} joined", who=who)
    if event == "viewer.left":
        if detail.get("reason") == "transferred":
            return _("{who} handed the session over and left", who=who)
        return _("{who} left", who=who)
    if event == "session.transferred":  # issue 19: the client allowed the new engineer
        return _(
            "{old} handed the session over to {new}",
            old=str(detail.get("from_name", "")),
            new=str(detail.get("to_name", "")),
        )
    if event == "session.transfer_refused":
        return _(
            "{new} did not take over: {old} stays with you",
            old=str(detail.get("from_name", "")),
            new=str(detail.get("to_name", "")),
        )
    if event == "call.requested":
        return _("{who} asks for a video call", who=who)
    if event in {"consent.requested", "permission.requested"}:
        return _("{who} asks to {what}", who=who, what=perms)
    if event == "consent.granted":
        return _("You allowed {who} to {what}", who=who, what=perms)
    if event == "consent.denied":
        if detail.get("reason") == "timed_out":
            return _("{who} may not {what} (no answer in time)", who=who, what=perms)
        return _("You refused: {who} may not {what}", who=who, what=perms)
    if event in {"consent.revoked", "permission.released"}:
        return _("{who} may no longer {what}", who=who, what=perms)
    if event == "chat.sent":
        if who == _("You"):
            return _("You sent a chat message")
        return _("Chat message from {who}", who=who)
    if event == "session.ended" and detail.get("reason"):
        reason = str(detail["reason"])
        why = _end_reasons().get(reason, _readable(reason).lower())
        return _("{phrase}: {why}", phrase=phrase, why=why)
    if event == "key.exchanged":
        ok = detail.get("ok", True)
        return (
            _("Secure connection set up with {who}", who=who)
            if ok
            else _(
                "The secure connection with {who} could not be checked: they see nothing", who=who
            )
        )
    return phrase


def default_session_dir(session_id: str, root: Path | None = None) -> Path:
    """``<root>/<session_id>`` with ``~`` expanded (the root defaults to the XDG data dir)."""
    if root is None:
        xdg = os.environ.get("XDG_DATA_HOME")
        root = Path(xdg) / "clearpane" / "sessions" if xdg else DEFAULT_LOG_ROOT
    return root.expanduser() / session_id


def _seq_of(record: Mapping[str, Any]) -> int:
    seq = record.get("seq")
    return seq if isinstance(seq, int) else 0


def _read_broker_copy(path: Path) -> list[dict[str, Any]]:
    """The broker records kept by an earlier run of this session (a torn last line,
    left by a crash, is cut off: the broker re-sends that record)."""
    if not path.exists():
        return []
    data = path.read_bytes()
    good = data[: data.rfind(b"\n") + 1]
    if len(good) != len(data):
        with path.open("r+b") as fh:
            fh.truncate(len(good))
    out = []
    for line in good.splitlines():
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            out.append(value)
    return out


class LocalLog:
    """Append-only, hash-chained local log of one session, with live listeners."""

    def __init__(self, directory: Path, session_id: str, names: NameLookup | None = None) -> None:
        self.directory = directory
        self._names = names
        self.session_id = session_id
        directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Reopening the same session's folder continues its chain (repairing a torn
        # last line left by a crash).
        self._writer = JsonlChainWriter(directory / "client.jsonl", repair_torn_tail=True)
        self._broker_path = directory / "broker.jsonl"
        self._broker_records: list[dict[str, Any]] = _read_broker_copy(self._broker_path)
        self._broker_seqs: set[Any] = {r.get("seq") for r in self._broker_records}
        self._lines: list[LogLine] = []
        self._listeners: list[Callable[[LogLine], None]] = []
        self._shown_local: set[str] = set()

    # -- live view -----------------------------------------------------------------

    def subscribe(self, listener: Callable[[LogLine], None]) -> None:
        """Call ``listener(line)`` for every new line (and replay the existing ones)."""
        for line in self._lines:
            listener(line)
        self._listeners.append(listener)

    @property
    def lines(self) -> tuple[LogLine, ...]:
        """Every line so far, oldest first."""
        return tuple(self._lines)

    def _emit(self, line: LogLine) -> None:
        self._lines.append(line)
        for listener in list(self._listeners):
            listener(line)

    # -- appending -----------------------------------------------------------------

    def record_local(
        self,
        event: str,
        detail: Mapping[str, Any],
        at_ms: int,
        actor: str = "client",
        *,
        show: bool = True,
    ) -> LogLine:
        """Append an action the agent took (fsync'd before returning: fail closed) and
        show it at once (the broker's echo of a client action is then not shown again)."""
        self._writer.append_event(event, actor, dict(detail), at_ms)
        line = LogLine(at_ms, "client", event, describe(event, actor, detail, self._names))
        if show:
            self._shown_local.add(event)
            self._emit(line)
        return line

    def record_broker(self, record: Mapping[str, Any], at_ms: int) -> LogLine:
        """Keep a broker record verbatim and reference it from the client's chain."""
        raw = dict(record)
        if raw.get("seq") in self._broker_seqs:
            # re-sent after a reconnect (the log resumes from what we hold): keep one copy
            return LogLine(at_ms, "broker", str(raw.get("event", "?")), "")
        self._broker_records.append(raw)
        self._broker_seqs.add(raw.get("seq"))
        with self._broker_path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(raw, sort_keys=True, separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        event = str(raw.get("event", "?"))
        ref = {"seq": raw.get("seq"), "hash": raw.get("hash"), "event": event}
        self._writer.append_event("broker.record", "broker", ref, at_ms)
        detail = raw.get("detail")
        text = describe(
            event,
            str(raw.get("actor", "")),
            detail if isinstance(detail, dict) else {},
            self._names,
        )
        line = LogLine(int(raw.get("at_ms", at_ms) or at_ms), "broker", event, text)
        if not (raw.get("actor") == "client" and event in self._shown_local):
            self._emit(line)  # (a client action already shown from our side is not repeated)
        return line

    def merge_broker(self, records: list[dict[str, Any]]) -> int:
        """Add broker records fetched after the end (REST), keeping the copy in seq
        order: the file is rewritten (fsync'd, atomically) when one fills a gap.
        Returns how many were new."""
        new = [dict(r) for r in records if r.get("seq") not in self._broker_seqs]
        if not new:
            return 0
        last = self.last_broker_seq
        in_order = all(isinstance(r.get("seq"), int) and r["seq"] > last for r in new)
        new.sort(key=_seq_of)
        if in_order:
            for r in new:
                self.record_broker(r, int(r.get("at_ms", 0) or 0))
            return len(new)
        merged = sorted(
            [*self._broker_records, *new],
            key=_seq_of,
        )
        tmp = self._broker_path.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as fh:
            for r in merged:
                fh.write(json.dumps(r, sort_keys=True, separators=(",", ":")) + "\n")
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, self._broker_path)
        self._broker_records = merged
        self._broker_seqs = {r.get("seq") for r in merged}
        for r in new:
            ref = {"seq": r.get("seq"), "hash": r.get("hash"), "event": str(r.get("event", "?"))}
            self._writer.append_event("broker.record", "broker", ref, int(r.get("at_ms", 0) or 0))
        return len(new)

    @property
    def last_broker_seq(self) -> int:
        """The highest seq of the broker's log held here (0: none): what ``hello``
        says, so that the broker re-sends everything after it (SPEC §3.1)."""
        seqs = [s for s in self._broker_seqs if isinstance(s, int)]
        return max(seqs, default=0)

    @property
    def broker_records(self) -> tuple[dict[str, Any], ...]:
        """The broker's records received so far (the client's copy of its chain)."""
        return tuple(self._broker_records)

    @property
    def client_records(self) -> tuple[Record, ...]:
        """The client's own chain."""
        return self._writer.records

    # -- the end -------------------------------------------------------------------

    def save_checkpoint(self, checkpoint: Mapping[str, Any]) -> Path:
        """Keep the broker's signed checkpoint next to the logs."""
        path = self.directory / "checkpoint.json"
        path.write_text(json.dumps(dict(checkpoint), sort_keys=True, indent=2) + "\n")
        return path

    def verify(
        self,
        checkpoint: Mapping[str, Any] | None,
        signer: ed25519.Ed25519PublicKey | None = None,
    ) -> LogVerification:
        """Check our copy of the broker's chain against its signed checkpoint (with
        ``signer``, the key from a verified checkpoint-signer certificate), and our own
        chain. Says in plain words what differs."""
        problems: list[str] = []
        notes: list[str] = []
        own = verify_chain(self._writer.records)
        if not own.ok:
            problems.append(f"the log kept on this computer is damaged: {own}")
        cp: Checkpoint | None = None
        if checkpoint is None:
            problems.append("the company did not send a signed checkpoint")
        else:
            try:
                cp = Checkpoint.from_dict(checkpoint)
            except ValueError as exc:
                problems.append(f"the checkpoint is malformed: {exc}")
        if cp is not None:
            if cp.session_id != self.session_id:
                problems.append("the checkpoint belongs to another session")
            if signer is not None:
                try:
                    verify_checkpoint(cp, signer, session_id=self.session_id)
                except CheckpointError as exc:
                    problems.append(f"the checkpoint's signature is not genuine: {exc}")
            else:
                notes.append("signature not checked: no checkpoint-signer certificate")
        report = verify_chain(self._broker_records, checkpoint=cp, allow_gaps=True)
        if not report.ok:
            problems.append(f"the company's log does not match: {report}")
        for first, last in report.gaps:
            notes.append(f"records {first}-{last} were not received (disconnected)")
        if problems:
            return LogVerification(False, "log NOT verified", tuple(problems))
        summary = f"log verified: {len(self._broker_records)} records match the signed copy"
        if notes:
            summary += " (" + "; ".join(notes) + ")"
        return LogVerification(True, summary)

    def close(self) -> None:
        """Close the files."""
        self._writer.close()


def input_dropped_text(who: str, reason: str) -> str:
    """Why input from ``who`` was not applied, in the client's words: the input gate's
    reason (agent/input.py, protocol/e2e) decides, so a frame that failed to decrypt
    is never reported as a missing permission."""
    if reason == "not_granted":
        return _("Mouse and keyboard input from {who} was blocked (no permission)", who=who)
    if reason in ("killed", "paused"):
        return _(
            "Mouse and keyboard input from {who} was blocked (you stopped or paused sharing)",
            who=who,
        )
    if reason == "no_injector":
        return _(
            "Mouse and keyboard input from {who} could not be applied (remote control is "
            "not available on this computer)",
            who=who,
        )
    if reason == "replayed":
        return _("Mouse and keyboard input from {who} was refused (a replayed copy)", who=who)
    return _(
        "Mouse and keyboard input from {who} was refused (it could not be decrypted or verified)",
        who=who,
    )
