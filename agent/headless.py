"""Terminal mode for servers without a display.

The same consent, asked on the terminal: one y/n question per permission; no
answer before the deadline is a deny (the session's consent timer decides, the
terminal only proposes). While the session runs, these commands are read from
standard input: ``kill`` (or Ctrl+C — the kill switch), ``pause``, ``resume``,
``monitor N|all`` (share another monitor),
``revoke control``, ``revoke all``, ``say TEXT`` (chat). After the session: the
rating, then the closure question once the engineer resolved the ticket
(:mod:`agent.terminal_closure`).

``--auto-consent-for-tests PERMS`` (set in the config, never offered by the
window) answers every prompt with those permissions — for tests and demos only,
and loudly announced on the terminal.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import sys
import threading
import time
from dataclasses import replace
from typing import TextIO

from agent.config import AgentConfig
from agent.consent import Decision, Prompt
from agent.i18n import _, ngettext
from agent.inject import Injector, InjectorError, open_injector
from agent.observer import LogLine, SessionObserver, SessionOutcome, SessionStatus
from agent.plaintext import plain_text
from agent.session import AgentSession, load_call_config
from agent.terminal_closure import TerminalClosure
from agent.ui.words import handover_text

#: How long the terminal waits for the rating after the session (Enter skips).
RATING_PROMPT_S = 60.0
#: How long it then waits for a REST rating to reach the broker.
RATING_SEND_S = 50.0


def _question(name: str, perm: str) -> str:
    if perm == "view":
        return _("Allow {name} to see your screen? [y/N]", name=name)
    if perm == "control":
        return _("Allow {name} to use your mouse and keyboard? [y/N]", name=name)
    return _("Allow {name} a video call (your camera and microphone open now)? [y/N]", name=name)


def _perm_names(perms: tuple[str, ...] | list[str]) -> str:
    words = {
        "view": _("see the screen"),
        "control": _("mouse and keyboard"),
        "video": _("video call"),
    }
    return ", ".join(words.get(p, p) for p in perms)


def _role_word(role: str) -> str:
    words = {"engineer": _("engineer"), "observer": _("supervisor, watching only")}
    return words.get(role, role)


#: Answers that mean yes (English and Russian keyboards alike).
_YES = ("y", "yes", "д", "да")
_NO = ("n", "no", "н", "нет", "")


class TerminalUI(SessionObserver):
    """Prints what happens and asks consent questions on a text terminal."""

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out or sys.stdout
        self.session: AgentSession | None = None
        self._lock = threading.Lock()
        self._question: tuple[Prompt, int, list[str]] | None = None
        self._queue: list[Prompt] = []
        self.rating_enabled = False
        self._want_rating = False
        self._rating_answered = threading.Event()
        self.closure_enabled = False  # interactive terminals only (it reads an answer)
        self.closure = TerminalClosure(self.say)
        self._outcome: SessionOutcome | None = None

    def say(self, text: str) -> None:
        """Print one line (flushed: this is a live view). Names, titles and chat from
        the broker or an engineer are inside ``text``: it is made inert first (no
        escape sequence, line break or bidi override reaches the terminal)."""
        print(plain_text(text), file=self.out, flush=True)

    # -- session → terminal -------------------------------------------------------

    def status(self, status: SessionStatus) -> None:
        if status.message:
            self.say(f"* {status.message}")  # i18n-ok: worded by the session

    def prompt(self, prompt: Prompt) -> None:
        with self._lock:
            self._queue.append(prompt)
            if self._question is None:
                self._next_question()

    def _next_question(self) -> None:
        # caller holds the lock
        while self._queue and self._question is None:
            prompt = self._queue.pop(0)
            self.say("")
            who = prompt.display_name
            ticket = prompt.ticket_id[:8]
            role = _role_word(prompt.role)
            if "view" in prompt.permissions:
                self.say(
                    "=== "
                    + _(
                        "{name} ({role}, verified by your help desk) asks to connect for "
                        "ticket {ticket}: {title}",
                        name=who,
                        role=role,
                        ticket=ticket,
                        title=prompt.ticket_title,
                    )
                )
                self.say("    " + _("The session is recorded for quality review."))
                if handover_text(prompt):  # issue 19: who hands over or invites
                    self.say("    " + handover_text(prompt))
            else:
                self.say(
                    "=== "
                    + _(
                        "{name} ({role}) asks for more: {permissions}",
                        name=who,
                        role=role,
                        permissions=_perm_names(prompt.permissions),
                    )
                )
            secs = max(0, prompt.remaining_ms(time.time_ns() // 1_000_000) // 1000)
            self.say(
                "    "
                + ngettext(
                    "Answer within {n} second; no answer means no.",
                    "Answer within {n} seconds; no answer means no.",
                    secs,
                )
            )
            if self.session is not None:
                self.session.mark_shown(prompt.request_id)
            self._question = (prompt, 0, [])
            self._ask()

    def _ask(self) -> None:
        assert self._question is not None
        prompt, index, _allowed = self._question
        perm = prompt.permissions[index]
        self.say("    " + _question(prompt.display_name, perm))

    def prompt_closed(self, decision: Decision) -> None:
        with self._lock:
            if self._question is not None and self._question[0].request_id == decision.request_id:
                self._question = None
            self._queue = [p for p in self._queue if p.request_id != decision.request_id]
            if decision.reason == "timed_out":
                self.say("    " + _("No answer in time: denied."))
            elif decision.granted:
                self.say(
                    "    " + _("Allowed: {permissions}", permissions=_perm_names(decision.granted))
                )
            else:
                self.say("    " + _("Denied."))
            self._next_question()

    def log_line(self, line: LogLine) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(line.at_ms / 1000))
        self.say(f"[{stamp}] {line.text}")  # i18n-ok: worded by the session

    def chat(self, sender: str, text: str, at_ms: int) -> None:
        self.say(f"<{sender}> {text}")  # i18n-ok: a name and their words

    def verification_code(self, viewer_id: str, name: str, code: str) -> None:
        self.say(
            "* "
            + _(
                "Verification code with {name}: {code} (compare it with theirs)",
                name=name,
                code=code,
            )
        )

    def notice(self, text: str) -> None:
        self.say(f"* {text}")  # i18n-ok: worded by the session

    def call_requested(self, viewer_id: str, name: str) -> None:
        self.say(
            "* "
            + _("{name} asks for a video call: type 'call accept' or 'call decline'", name=name)
        )

    def ended(self, outcome: SessionOutcome) -> None:
        self._outcome = outcome
        self.say(f"=== {outcome.final_text}")  # i18n-ok: worded by the session
        if outcome.verification is not None:
            self.say(f"    {outcome.verification.summary}")  # i18n-ok: worded by the verifier
            for problem in outcome.verification.problems:
                self.say(f"    - {problem}")  # i18n-ok: worded by the verifier
        if outcome.log_dir:
            self.say("    " + _("Your copy of the log: {path}", path=outcome.log_dir))
        if self.rating_enabled and outcome.can_rate:
            self._want_rating = True
            self.say(_("How well were you helped? Type 1 to 5 (Enter to skip)."))

    # -- terminal → session -------------------------------------------------------

    def handle_line(self, line: str) -> None:
        """One line typed by the client: an answer to the current question or a command."""
        text = line.strip()
        session = self.session
        if session is None:
            return
        if self._want_rating:
            self._want_rating = False
            if text in ("1", "2", "3", "4", "5"):
                session.rate(int(text))
                self.say(_("Thank you."))
            self._rating_answered.set()
            return
        if self.closure.take_line(text):
            return
        with self._lock:
            question = self._question
            if question is not None and text.lower() in _YES + _NO:
                prompt, index, allowed = question
                if text.lower() in _YES:
                    allowed.append(prompt.permissions[index])
                if index + 1 < len(prompt.permissions):
                    self._question = (prompt, index + 1, allowed)
                    self._ask()
                else:
                    session.answer(prompt.request_id, allowed)
                return
        word, _sep, rest = text.partition(" ")
        if word == "kill":
            session.kill("terminal")
        elif word == "pause":
            session.pause()
        elif word == "resume":
            session.resume()
        elif word == "revoke":
            perms = ["view", "control", "video"] if rest.strip() == "all" else rest.split()
            for viewer_id in list(session.consent.viewers()):
                session.revoke(viewer_id, perms)
        elif word == "say" and rest.strip():
            session.send_chat(rest)
        elif word == "monitor" and (rest.strip() == "all" or rest.strip().isdigit()):
            session.select_monitor(0 if rest.strip() == "all" else int(rest))
        elif word == "call" and rest.strip() in ("start", "accept", "decline", "hangup"):
            getattr(session, f"call_{rest.strip()}")()
        elif text:
            self.say(
                "* "
                + _("Commands:")
                + " kill, pause, resume, revoke control|all, say TEXT, "  # i18n-ok: commands
                "call start|accept|decline|hangup, monitor N|all"
            )

    def wait_for_rating(self, timeout: float = RATING_PROMPT_S) -> None:
        """After the session: if the rating question is still open (after a kill the
        socket is gone, the rating goes over REST), wait at most ``timeout`` for the
        answer (Enter skips), then for the rating to reach the broker."""
        if not self._want_rating and not self._rating_answered.is_set():
            return
        if not self._rating_answered.wait(timeout) and self._want_rating:
            self._want_rating = False
            self.say("* " + _("No rating given."))
        if self.session is not None and not self.session.wait_rating(RATING_SEND_S):
            self.say("* " + _("The rating could not be sent in time."))

    def wait_for_closure(self, **timing: float) -> None:
        """After the rating: ask whether the problem is solved once the engineer
        resolved the ticket (only a session the broker opened has a token to ask with;
        ``timing``: :meth:`TerminalClosure.run`'s ``watch_s``, ``poll_s``, ``prompt_s``)."""
        outcome, session = self._outcome, self.session
        if self.closure_enabled and outcome is not None and outcome.rest_rating and session:
            self.closure.run(session, **timing)


def _stdin_reader(ui: TerminalUI, stop: threading.Event) -> None:
    while not stop.is_set():
        line = sys.stdin.readline()
        if not line:
            return
        ui.handle_line(line)


def no_terminal_reason(config: AgentConfig, stdin: TextIO | None = None) -> str | None:
    """Why terminal mode cannot run here, or None. Consent is a person answering on
    this terminal: without one on standard input every answer would be lost (and
    would end as "denied"), so the agent refuses to start instead (issue 20)."""
    stream = sys.stdin if stdin is None else stdin
    if config.auto_consent_for_tests is not None:
        return None
    if stream is not None and stream.isatty():
        return None
    return _(
        "terminal mode needs a person at a terminal: standard input is not one, so "
        "nobody could answer the consent questions, type 'kill' or rate the help. "
        "Run it in an interactive terminal (ssh -t, a console), or use the window."
    )


def run_headless(config: AgentConfig, out: TextIO | None = None) -> SessionOutcome:
    """Run a session on the terminal; Ctrl+C or SIGTERM is the kill switch."""
    ui = TerminalUI(out)
    interactive = sys.stdin is not None and sys.stdin.isatty()
    if interactive and config.auto_consent_for_tests is None:
        ui.rating_enabled = True
        ui.closure_enabled = True
        config = replace(config, rating_wait_s=30.0)  # the socket stays open to rate
    session = AgentSession(config, ui, injector=_injector(config), call_config=load_call_config())
    ui.session = session
    if config.auto_consent_for_tests is not None:
        ui.say(
            "!!! TEST MODE: every consent prompt is answered automatically with "  # i18n-ok
            f"{', '.join(config.auto_consent_for_tests) or 'nothing'} !!!"  # tests only
        )
    ui.say(_("Clearpane agent — type 'kill' or press Ctrl+C to stop everything at any time."))
    stop = threading.Event()
    if interactive:
        threading.Thread(target=_stdin_reader, args=(ui, stop), daemon=True).start()

    async def main() -> SessionOutcome:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.add_signal_handler(sig, session.kill, "signal")
        return await session.run()

    try:
        outcome = asyncio.run(main())
        ui.wait_for_rating()  # after a kill too: the rating then goes over REST
        ui.wait_for_closure()  # the window's "Is your problem solved?", on the terminal
        return outcome
    finally:
        stop.set()


def _injector(config: AgentConfig) -> Injector | None:
    if config.injector == "none":
        return None
    try:
        return open_injector(config.injector)
    except InjectorError:
        return None  # no display: input cannot be applied (it is refused and logged)
