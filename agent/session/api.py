"""``AgentSession``: the thread-safe API the UI calls, and ``run()``.

``run()`` runs on its own asyncio loop (the Qt window starts it in a background
thread; headless mode runs it in the main thread). Public methods may be called
from any thread; they marshal onto the loop (``kill`` acts in the caller's thread
first). At the end the local log is verified against the broker's checkpoint.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.config import AgentConfig
from agent.connection import SessionTicket, make_ssl_context
from agent.consent import ConsentMachine, Permission, parse_permissions
from agent.errors import AgentError, SessionKilled
from agent.i18n import _
from agent.inject import Injector
from agent.killswitch import KillRecord, KillSwitch
from agent.locallog import LocalLog
from agent.observer import (
    CallView,
    LogVerification,
    SessionObserver,
    SessionOutcome,
    TicketStatus,
)
from agent.session.calls import CallGlue
from agent.session.closure import Closure
from agent.session.connect import Connector
from agent.session.consent_flow import ConsentFlow
from agent.session.core import PipelineFactory, SessionCore, SourceFactory, now_ms
from agent.session.dispatch import Reader
from agent.session.keys import KeyExchange
from agent.session.rating import Rating
from agent.session.stream import Stream
from agent.session.verify import checkpoint_signer, verify_local_log
from agent.video import VideoChoice
from protocol.messages import Chat

if TYPE_CHECKING:  # agent.call pulls in aiortc/PyAV: imported only when calls are on
    from agent.call.config import CallConfig

log = logging.getLogger(__name__)


class AgentSession:
    """The agent side of one session. Thread-safe public methods; ``run()`` once.

    Composed of parts it owns, each over the shared :class:`SessionCore` and testable
    alone: keys (:class:`KeyExchange`), calls (:class:`CallGlue`), consent
    (:class:`ConsentFlow`), the stream (:class:`Stream`), the reader
    (:class:`Reader`) and the connection (:class:`Connector`)."""

    def __init__(
        self,
        config: AgentConfig,
        observer: SessionObserver | None = None,
        *,
        source_factory: SourceFactory | None = None,
        pipeline_factory: PipelineFactory | None = None,
        injector: Injector | None = None,
        call_config: CallConfig | None = None,
        clock_ms: Callable[[], int] = now_ms,
    ) -> None:
        self._core = core = SessionCore(
            config,
            observer,
            source_factory=source_factory,
            pipeline_factory=pipeline_factory,
            injector=injector,
            call_config=call_config,
            clock_ms=clock_ms,
        )
        self._exchange = KeyExchange(core)
        self._calls = CallGlue(core)
        self._closure = Closure(core)  # the client confirms or reopens (after the end)
        self._consenting = ConsentFlow(core, self._exchange, self._calls)
        self._stream = Stream(core)
        self._reader = Reader(core, self._exchange, self._consenting, self._calls)
        self._connector = Connector(
            core, self._reader, self._stream, self._consenting, self._exchange
        )
        self._rating = Rating(core)

    # == state, for the UI and tests ===================================================

    @property
    def config(self) -> AgentConfig:
        """The agent's configuration."""
        return self._core.config

    @property
    def observer(self) -> SessionObserver:
        """Where the session reports to the UI."""
        return self._core.observer

    @property
    def consent(self) -> ConsentMachine:
        """Who may do what (the authority for every gate)."""
        return self._core.consent

    @property
    def killswitch(self) -> KillSwitch:
        """Kill and pause."""
        return self._core.killswitch

    @property
    def video(self) -> VideoChoice:
        """The negotiated video codecs (SPEC §4.4)."""
        return self._core.video

    @property
    def session_id(self) -> str | None:
        """The session id, once the broker gave one."""
        return self._core.session_id

    @property
    def ticket(self) -> SessionTicket | None:
        """What REST returned for the request or redeemed code."""
        return self._core.ticket

    @property
    def local_log(self) -> LocalLog | None:
        """The client's own copy of the session log."""
        return self._core.local_log

    @property
    def outcome(self) -> SessionOutcome | None:
        """How the session ended (set when ``run`` returns)."""
        return self._core.outcome

    @property
    def frames_sent(self) -> int:
        """Screen updates sent."""
        return self._core.frames_sent

    @property
    def connections(self) -> int:
        """WebSocket connections made (reconnects included)."""
        return self._core.connections

    @property
    def unacknowledged(self) -> int:
        """Screen updates sent that no viewer has acknowledged (drawn) yet."""
        return len(self._core.inflight)

    @property
    def committed_seq(self) -> int:
        """Seq of the last frame committed for sending."""
        return self._core.committed_seq

    @property
    def seq_at_kill(self) -> int | None:
        """``committed_seq`` at the kill."""
        return self._core.seq_at_kill

    @property
    def bytes_sent(self) -> int:
        """Bytes of screen updates sent."""
        return self._core.bytes_sent

    @property
    def grabs(self) -> int:
        """Screen grabs made."""
        return self._core.grabs

    @property
    def consent_names(self) -> dict[str, str]:
        """Verified names of viewers announced by ``viewer.joined``."""
        return self._core.consent_names

    # == thread-safe API for the UI ====================================================

    @property
    def connected(self) -> bool:
        """True while the WebSocket to the broker is up (after ``welcome``)."""
        return self._core.ws is not None

    def kill(self, source: str = "button") -> KillRecord | None:
        """THE kill switch: capture stops before this returns (any thread)."""
        return self._core.killswitch.kill(self._core.clock(), source)

    def answer(self, request_id: str, allowed: Sequence[str]) -> None:
        """The client's answer to a prompt: ``allowed`` ⊆ asked, the rest denied."""
        self._core.call_soon(self._consenting.answer, request_id, tuple(allowed))

    def mark_shown(self, request_id: str) -> None:
        """The UI has displayed the prompt (needed before a grant)."""
        self._core.call_soon(self._consenting.mark_shown, request_id)

    def revoke(self, viewer_id: str, permissions: Sequence[str]) -> None:
        """The client takes permissions back (takes effect before the next input)."""
        self._core.call_soon(self._consenting.revoke, viewer_id, tuple(permissions))

    def pause(self) -> None:
        """Pause the stream: capture stops in this thread, then the broker is told."""
        try:
            changed = self._core.killswitch.pause()
        except SessionKilled:
            return  # nothing is streamed after a kill anyway
        if changed:
            self._core.call_soon(self._stream.after_pause)

    def resume(self) -> None:
        """Resume a paused stream (never after kill)."""
        try:
            changed = self._core.killswitch.resume()
        except SessionKilled:
            self._core.observer.notice(
                _("A stopped session cannot be resumed; ask for help again.")
            )
            return
        if changed:
            self._core.call_soon(self._stream.after_resume)

    def select_monitor(self, monitor: int) -> None:
        """Share monitor ``monitor`` (1 = primary) or all of them (0) from the next
        frame; the engineer sees the new monitor list in ``desktop.info``."""
        self._core.call_soon(self._core.select_monitor, monitor)

    def send_chat(self, text: str) -> None:
        """Send a chat line the client typed."""
        text = text.strip()
        if text:
            self._core.call_soon(self._send_chat, text[:4000])

    def set_masks(
        self, regions: Sequence[tuple[int, int, int, int]], windows: Sequence[str] = ()
    ) -> None:
        """Blank these screen regions ``(x, y, w, h)`` and windows (by title) from the
        next frame on; a frame grabbed before the change is discarded."""
        with self._core.mask_lock:
            self._core.masks = (tuple(tuple(r) for r in regions), tuple(windows))  # type: ignore[misc]
            self._core.mask_gen += 1
        self._core.call_soon(self._stream.after_masks, len(regions), len(windows))

    def call_start(self) -> None:
        """The client starts a video call (camera and microphone open now)."""
        self._calls.action("client_start")

    def call_accept(self) -> None:
        """The client accepts the engineer's call request."""
        self._calls.action("client_accept")

    def call_decline(self) -> None:
        """The client declines the engineer's call request."""
        self._calls.action("client_decline")

    def call_mute(self, *, audio: bool, video: bool) -> None:
        """Mute / unmute the client's microphone and camera (the engineer is told)."""
        self._calls.action("client_mute", audio=audio, video=video)

    def call_view(self) -> CallView:
        """What the call panel shows now (any thread; cheap)."""
        return self._calls.view()

    def call_hangup(self) -> None:
        """The client hangs up (camera and microphone stop)."""
        self._calls.action("client_hangup")

    def rate(self, score: int, comment: str = "") -> None:
        """The client's rating of the help (1–5): over the socket while it is open,
        else over REST in a background thread (see :class:`Rating`). Only the first
        counts."""
        self._rating.rate(score, comment)

    def wait_rating(self, timeout: float) -> bool:
        """Wait for a REST rating in flight; True when none is (left) in flight."""
        return self._rating.wait(timeout)

    async def rate_over_rest(self, score: int, comment: str = "") -> None:
        """Send the rating now over REST (``FinalError`` if refused)."""
        await self._rating.over_rest(score, comment)

    # == running =======================================================================

    def answer_closure(self, accept: bool, comment: str = "") -> None:
        """The client confirms the engineer's resolution (``accept``) or reopens the
        ticket; sent over REST in the background (the observer hears the result)."""
        self._closure.send_answer(accept, comment)

    async def ticket_status(self) -> TicketStatus:
        """The session's ticket now, from the broker (``AgentError`` if it cannot say)."""
        return await self._closure.status()

    async def closure_over_rest(self, accept: bool, comment: str = "") -> TicketStatus:
        """Send the closure answer now and return the ticket after it."""
        return await self._closure.answer(accept, comment)

    async def run(self) -> SessionOutcome:
        """Request help (or redeem the code), connect, serve until the end."""
        self._core.loop = asyncio.get_running_loop()
        self._core.loop_thread = threading.get_ident()
        self._core.wake = asyncio.Event()
        self._core.killed_evt = asyncio.Event()
        self._core.checkpoint_evt = asyncio.Event()
        self._core.rating_evt = asyncio.Event()
        self._core.ended_evt = asyncio.Event()
        loop = self._core.loop
        killed_evt = self._core.killed_evt

        def on_kill(_record: KillRecord) -> None:
            # Runs in the killing thread after the fence: nothing can be committed now.
            self._core.seq_at_kill = self._core.committed_seq
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(killed_evt.set)

        self._core.killswitch.on_kill(on_kill)
        if self._core.call_config is not None:
            self._core.call = self._core.call_config.make_runner(
                self._core.send,
                lambda event, detail: self._core.log_local(event, dict(detail), self._core.clock()),
                on_ring=self._calls.on_ring,
            )
        try:
            outcome = await self._connector.run()
        except Exception as exc:
            log.exception("session failed")
            outcome = SessionOutcome("failed", details=(str(exc),))
        finally:
            self._shutdown_local()
            if self._core.call is not None:
                with contextlib.suppress(Exception):
                    await self._core.call.aclose()
        await self._complete_log(outcome)
        outcome = self._reason_from_log(outcome)
        verification = self._verify_log()
        self._core.outcome = SessionOutcome(
            outcome.reason,
            outcome.by,
            self._core.session_id,
            verification,
            str(self._core.local_log.directory) if self._core.local_log else None,
            outcome.details,
            # Only a session the broker opened (welcome seen) ends there and can be rated.
            rest_rating=(
                self._core.welcome is not None
                and self._core.session_token is not None
                and outcome.reason != "auth_failed"
            ),
        )
        self._core.set_phase("ended")
        self._core.observer.ended(self._core.outcome)
        if self._core.outcome.rest_rating:
            self._closure.start_watch()  # the client may be asked to confirm the fix
        linger = self._core.linger_ws
        if linger is not None:
            # The broker keeps the socket a little after the end: the client may rate.
            assert self._core.rating_evt is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(
                    self._core.rating_evt.wait(), self._core.config.rating_wait_s
                )
            await asyncio.sleep(0.05)  # let the queued rating go out
            await self._connector.close_ws(linger)
            self._core.linger_ws = None
        return self._core.outcome

    def _send_chat(self, text: str) -> None:
        self._core.send(Chat(text=text))

    def _shutdown_local(self) -> None:
        self._consenting.close()
        self._stream.release_capture()
        if self._core.injector is not None:
            with contextlib.suppress(Exception):
                self._core.injector.close()

    def _reason_from_log(self, outcome: SessionOutcome) -> SessionOutcome:
        """The session ended while this computer was away: its log (completed over
        REST) says why and by whom."""
        if outcome.reason != "ended_while_away" or self._core.local_log is None:
            return outcome
        for record in reversed(self._core.local_log.broker_records):
            detail = record.get("detail")
            if record.get("event") == "session.ended" and isinstance(detail, dict):
                reason = detail.get("reason")
                if isinstance(reason, str):
                    note = _("It ended while this computer was disconnected.")
                    return SessionOutcome(
                        reason, str(detail.get("by") or "broker"), details=(note, *outcome.details)
                    )
        return outcome

    async def _complete_log(self, outcome: SessionOutcome) -> None:
        """Fetch over REST what the copy lacks (records, final checkpoint): G10."""
        core = self._core
        if (
            core.local_log is None
            or core.welcome is None
            or core.session_token is None
            or outcome.reason == "auth_failed"
        ):
            return
        from agent.logfetch import complete_log, missing_after

        if missing_after(core.local_log, core.checkpoint) is None:
            return
        cfg = core.config
        ssl_ctx = make_ssl_context(cfg.ca_pem, **cfg.client_identity())
        for _attempt in range(3):  # a killed session is stored as ended just after the kill
            core.checkpoint = await complete_log(
                core.local_log,
                core.checkpoint,
                cfg.broker_url,
                ssl_ctx,
                core.session_token,
                2 * cfg.notify_timeout_s,
            )
            if missing_after(core.local_log, core.checkpoint) is None:
                return
            await asyncio.sleep(0.3)

    def _verify_log(self) -> LogVerification | None:
        if self._core.local_log is None:
            return None
        return verify_local_log(
            self._core.local_log, self._core.checkpoint, self._checkpoint_signer, self._core.clock
        )

    def _checkpoint_signer(self) -> Ed25519PublicKey | None:
        """The broker's checkpoint key, only from a certificate the organisation CA
        issued (from the enrollment file, or attached to the checkpoint)."""
        return checkpoint_signer(
            self._core.config.checkpoint_signer_pem, self._core.checkpoint, self._core.ca_pem
        )


def load_call_config() -> CallConfig | None:
    """Video-call settings from the environment, or None where aiortc/PyAV are missing
    or the settings are invalid (call requests are then answered with a notice)."""
    try:
        from agent.call.config import CallConfig

        return CallConfig.from_env()
    except Exception as exc:
        log.info("video calls unavailable: %s", exc)
        return None


def permissions_arg(values: Sequence[str]) -> tuple[Permission, ...]:
    """Parse permission names from the command line (raises ``AgentError``)."""
    try:
        return parse_permissions(values)
    except ValueError as exc:
        raise AgentError(str(exc)) from exc


__all__ = ["AgentSession", "SessionKilled", "load_call_config", "permissions_arg"]
