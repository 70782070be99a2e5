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
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from agent.connection import ConnectionLost, make_ssl_context, post_rating
from agent.consent import Permission, parse_permissions
from agent.errors import AgentError, FinalError, SessionKilled
from agent.killswitch import KillRecord
from agent.observer import CallView, LogVerification, SessionOutcome
from agent.session.connect import ConnectMixin
from agent.session.verify import checkpoint_signer, verify_local_log
from protocol.messages import Chat, Rating

if TYPE_CHECKING:  # agent.call pulls in aiortc/PyAV: imported only when calls are on
    from agent.call.config import CallConfig

log = logging.getLogger(__name__)

#: How long a REST rating keeps retrying while the broker has not yet stored the end
#: (a kill that never reached it ends the session after the agent grace, 30 s).
REST_RATING_RETRY_S = 45.0


class AgentSession(ConnectMixin):
    """The agent side of one session. Thread-safe public methods; ``run()`` once."""

    # == thread-safe API for the UI ====================================================

    @property
    def connected(self) -> bool:
        """True while the WebSocket to the broker is up (after ``welcome``)."""
        return self._ws is not None

    def kill(self, source: str = "button") -> KillRecord | None:
        """THE kill switch: capture stops before this returns (any thread)."""
        return self.killswitch.kill(self._clock(), source)

    def answer(self, request_id: str, allowed: Sequence[str]) -> None:
        """The client's answer to a prompt: ``allowed`` ⊆ asked, the rest denied."""
        self._call_soon(self._answer, request_id, tuple(allowed))

    def mark_shown(self, request_id: str) -> None:
        """The UI has displayed the prompt (needed before a grant)."""
        self._call_soon(self._mark_shown, request_id)

    def revoke(self, viewer_id: str, permissions: Sequence[str]) -> None:
        """The client takes permissions back (takes effect before the next input)."""
        self._call_soon(self._revoke, viewer_id, tuple(permissions))

    def pause(self) -> None:
        """Pause the stream: capture stops in this thread, then the broker is told."""
        try:
            changed = self.killswitch.pause()
        except SessionKilled:
            return  # nothing is streamed after a kill anyway
        if changed:
            self._call_soon(self._after_pause)

    def resume(self) -> None:
        """Resume a paused stream (never after kill)."""
        try:
            changed = self.killswitch.resume()
        except SessionKilled:
            self.observer.notice("A stopped session cannot be resumed; ask for help again.")
            return
        if changed:
            self._call_soon(self._after_resume)

    def send_chat(self, text: str) -> None:
        """Send a chat line the client typed."""
        text = text.strip()
        if text:
            self._call_soon(self._send_chat, text[:4000])

    def set_masks(
        self, regions: Sequence[tuple[int, int, int, int]], windows: Sequence[str] = ()
    ) -> None:
        """Blank these screen regions ``(x, y, w, h)`` and windows (by title) from the
        next frame on; a frame grabbed before the change is discarded."""
        with self._mask_lock:
            self._masks = (tuple(tuple(r) for r in regions), tuple(windows))  # type: ignore[misc]
            self._mask_gen += 1
        self._call_soon(self._after_masks, len(regions), len(windows))

    def call_start(self) -> None:
        """The client starts a video call (camera and microphone open now)."""
        self._call_action("client_start")

    def call_accept(self) -> None:
        """The client accepts the engineer's call request."""
        self._call_action("client_accept")

    def call_decline(self) -> None:
        """The client declines the engineer's call request."""
        self._call_action("client_decline")

    def call_mute(self, *, audio: bool, video: bool) -> None:
        """Mute / unmute the client's microphone and camera (the engineer is told)."""
        self._call_action("client_mute", audio=audio, video=video)

    def call_view(self) -> CallView:
        """What the call panel shows now (any thread; cheap)."""
        return self._call_view()

    def call_hangup(self) -> None:
        """The client hangs up (camera and microphone stop)."""
        self._call_action("client_hangup")

    def rate(self, score: int, comment: str = "") -> None:
        """The client's rating of the help (1–5). While the session's socket is open
        (during the session, or lingering after the end) it goes over the socket; once
        the socket is gone (after a kill) over REST with the session token, in a
        background thread (:meth:`wait_rating` waits for it). Only the first counts."""
        if not 1 <= score <= 5:
            raise ValueError("score must be 1..5")
        if self.outcome is not None and self._linger_ws is None:
            self._start_rest_rating(score, comment[:1000])
            return
        self._call_soon(self._send_rating, score, comment[:1000])

    def wait_rating(self, timeout: float) -> bool:
        """Wait for a REST rating in flight; True when none is (left) in flight."""
        thread = self._rest_rating
        if thread is not None:
            thread.join(timeout)
            return not thread.is_alive()
        return True

    async def rate_over_rest(self, score: int, comment: str = "") -> None:
        """Send the rating now over REST (``POST /api/v1/agent/rating``, pinned CA TLS,
        the session token), retrying while the broker has not stored the end yet.
        Raises ``AgentError`` (``FinalError`` if refused: already rated, too late)."""
        token, sid = self._session_token, self.session_id
        if token is None or sid is None:
            raise AgentError("there is no session to rate")
        ssl_ctx = make_ssl_context(self._ca_pem, **self.config.client_identity())
        deadline = time.monotonic() + REST_RATING_RETRY_S
        while True:
            try:
                await post_rating(self.config.broker_url, ssl_ctx, token, score, comment)
                break
            except FinalError as exc:
                if exc.reason != "not_ended" or time.monotonic() > deadline:
                    raise
            except ConnectionLost:
                if time.monotonic() > deadline:
                    raise
            await asyncio.sleep(1.0)
        self._rating_sent = True

    # == running =======================================================================

    async def run(self) -> SessionOutcome:
        """Request help (or redeem the code), connect, serve until the end."""
        self._loop = asyncio.get_running_loop()
        self._loop_thread = threading.get_ident()
        self._wake = asyncio.Event()
        self._killed_evt = asyncio.Event()
        self._checkpoint_evt = asyncio.Event()
        self._rating_evt = asyncio.Event()
        self._ended_evt = asyncio.Event()
        loop = self._loop
        killed_evt = self._killed_evt

        def on_kill(_record: KillRecord) -> None:
            # Runs in the killing thread after the fence: nothing can be committed now.
            self.seq_at_kill = self.committed_seq
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(killed_evt.set)

        self.killswitch.on_kill(on_kill)
        if self._call_config is not None:
            self._call = self._call_config.make_runner(
                self._send,
                lambda event, detail: self._log_local(event, dict(detail), self._clock()),
                on_ring=self._on_ring,
            )
        try:
            outcome = await self._run()
        except Exception as exc:
            log.exception("session failed")
            outcome = SessionOutcome("failed", details=(str(exc),))
        finally:
            self._shutdown_local()
            if self._call is not None:
                with contextlib.suppress(Exception):
                    await self._call.aclose()
        verification = self._verify_log()
        self.outcome = SessionOutcome(
            outcome.reason,
            outcome.by,
            self.session_id,
            verification,
            str(self.local_log.directory) if self.local_log else None,
            outcome.details,
            # Only a session the broker opened (welcome seen) ends there and can be rated.
            rest_rating=(
                self._welcome is not None
                and self._session_token is not None
                and outcome.reason != "auth_failed"
            ),
        )
        self._set_phase("ended")
        self.observer.ended(self.outcome)
        linger = self._linger_ws
        if linger is not None:
            # The broker keeps the socket a little after the end: the client may rate.
            assert self._rating_evt is not None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._rating_evt.wait(), self.config.rating_wait_s)
            await asyncio.sleep(0.05)  # let the queued rating go out
            await self._close_ws(linger)
            self._linger_ws = None
        return self.outcome

    def _send_chat(self, text: str) -> None:
        self._send(Chat(text=text))

    def _start_rest_rating(self, score: int, comment: str) -> None:
        if self._rating_sent or self._rest_rating is not None:
            return
        if self.outcome is None or not self.outcome.rest_rating:
            self.observer.notice("This session can no longer be rated.")
            return

        def send() -> None:
            try:
                asyncio.run(self.rate_over_rest(score, comment))
            except AgentError as exc:
                log.warning("rating not sent: %s", exc)
                self.observer.notice(f"Your rating could not be sent: {exc}")
            else:
                self.observer.notice("Your rating was sent. Thank you.")

        thread = threading.Thread(target=send, name="agent-rating", daemon=True)
        self._rest_rating = thread
        thread.start()

    def _send_rating(self, score: int, comment: str) -> None:
        if self._rating_sent:
            return
        self._rating_sent = True
        self._send(Rating(score=score, comment=comment))
        if self._rating_evt is not None:
            self._rating_evt.set()

    def _shutdown_local(self) -> None:
        self._close_consent()
        self._release_capture()
        if self._injector is not None:
            with contextlib.suppress(Exception):
                self._injector.close()

    def _verify_log(self) -> LogVerification | None:
        if self.local_log is None:
            return None
        return verify_local_log(
            self.local_log, self._checkpoint, self._checkpoint_signer, self._clock
        )

    def _checkpoint_signer(self) -> Ed25519PublicKey | None:
        """The broker's checkpoint key, only from a certificate the organisation CA
        issued (from the enrollment file, or attached to the checkpoint)."""
        return checkpoint_signer(self.config.checkpoint_signer_pem, self._checkpoint, self._ca_pem)


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
