"""The session's shared state and the helpers every part uses.

``SessionCore`` owns the attributes set up in ``__init__`` (configuration, the
consent machine and kill switch, loop-thread state, counters), marshalling calls
onto the session loop (``call_soon``), queueing control messages (``send``), the
client's local log (``log_local``), viewer names, and the status published to
the ``SessionObserver``. Each part of ``AgentSession`` holds it (and nothing
inherits from it).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from websockets.asyncio.client import ClientConnection
from websockets.exceptions import ConnectionClosed

from agent.config import AgentConfig
from agent.connection import SessionTicket
from agent.consent import ConsentMachine
from agent.desktop.capabilities import probe_source
from agent.desktop.share import DesktopShare, describe
from agent.e2ekeys import SessionKeys
from agent.i18n import _
from agent.inject import Injector
from agent.input import InputGate
from agent.killswitch import KillSwitch
from agent.locallog import LocalLog
from agent.observer import SessionObserver, SessionOutcome, SessionStatus, ViewerStatus
from agent.video import VideoChoice, choose_codecs
from protocol.errors import ProtocolError
from protocol.messages import LogLocal, Welcome, serialize_control

if TYPE_CHECKING:  # agent.call pulls in aiortc/PyAV: imported only when calls are on
    from agent.call.config import CallConfig
    from agent.call.runner import CallRunner

log = logging.getLogger(__name__)

#: SPEC §3.6 signalling, handled by ``agent.call`` (same set as its CALL_MESSAGE_TYPES).
CALL_MESSAGE_TYPES = frozenset(
    {"call.request", "rtc.offer", "rtc.answer", "rtc.candidate", "rtc.mute", "rtc.hangup"}
)

FLAG_FULL = 0x01
#: Agent-side actions the broker records too (``log.local``); the broker logs
#: consent, pause and masks itself from the messages, so those are not repeated.
_FORWARDED_EVENTS = frozenset(
    {
        "input.applied",
        "input.dropped",
        "key.exchanged",
        "key.epoch",
        "audit.recipient_rejected",
        "monitor.selected",
    }
)
#: An update not acknowledged after this long no longer counts as in flight
#: (a lost ack must not stall the stream forever).
INFLIGHT_EXPIRY_S = 3.0

SourceFactory = Callable[[], Any]  # returns an agent.capture.CaptureSource
PipelineFactory = Callable[[Any], Any]  # source -> agent.pipeline.ScreenPipeline (or Video…)


def now_ms() -> int:
    """Wall-clock milliseconds (the session's default clock)."""
    return time.time_ns() // 1_000_000


def _default_source(spec: str, monitor: Callable[[], str]) -> SourceFactory:
    def factory() -> Any:
        from agent.capture import open_source

        return open_source(spec, monitor())  # the client's choice when it opens

    return factory


def _default_pipeline(source: Any) -> Any:
    from agent.video import VideoPipeline, create_encoder

    return VideoPipeline(source, create_encoder)


class SessionCore:
    """State shared by every part of the session, and the helpers they all use:
    queueing a control message, the local log, the status shown to the client."""

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
        self.config = config
        self.observer = observer or SessionObserver()
        self.source_factory = source_factory or _default_source(
            config.source, lambda: self.desktop.choice
        )
        self.pipeline_factory = pipeline_factory or _default_pipeline
        self.injector = injector
        self.video = VideoChoice(partial(choose_codecs, config.video))  # SPEC §4.4
        # What of the desktop is shared and what the agent can do there (desktop.info).
        self.desktop = DesktopShare(
            config.monitor_switch,
            probe_source(config.source, want_input=injector is not None),
            config.monitor,
            devices=call_config.devices() if call_config is not None else None,
        )
        self.desktop_sent: Any = None
        self.call_config = call_config
        self.ca_pem = config.ca_pem  # the organisation roots (may grow by rotation)
        self.call: CallRunner | None = None
        self.clock = clock_ms
        self.consent = ConsentMachine(int(config.consent_timeout_s * 1000))
        self.killswitch = KillSwitch()
        self.session_id: str | None = None
        self.ticket: SessionTicket | None = None
        self.local_log: LocalLog | None = None
        self.outcome: SessionOutcome | None = None
        # Loop-thread state ---------------------------------------------------------
        self.loop: asyncio.AbstractEventLoop | None = None
        self.loop_thread: int | None = None
        self.ws: ClientConnection | None = None
        self.welcome: Welcome | None = None
        self.skew_ms = 0
        self.ticket_title = ""
        self.keys: SessionKeys | None = None  # created at the first welcome
        self.gate: InputGate | None = None
        self.inflight: dict[int, float] = {}
        self.need_full = True
        self.wake: asyncio.Event | None = None
        self.killed_evt: asyncio.Event | None = None
        self.checkpoint: dict[str, Any] | None = None
        self.checkpoint_evt: asyncio.Event | None = None
        self.end_reason: tuple[str, str] | None = None
        self.ended_evt: asyncio.Event | None = None
        self.pipeline: Any = None
        self.source: Any = None
        self.mask_lock = threading.Lock()
        self.masks: tuple[tuple[tuple[int, int, int, int], ...], tuple[str, ...]] = ((), ())
        self.mask_gen = 0
        self.applied_mask_gen = 0
        self.rating_sent = False
        self.rating_evt: asyncio.Event | None = None
        self.linger_ws: ClientConnection | None = None
        # The newest agent token (the request's, then each welcome's resume token):
        # after the end it authenticates a REST rating (POST /api/v1/agent/rating).
        self.session_token: str | None = None
        self.rest_rating: threading.Thread | None = None
        self.phase = "connecting"
        self.frames_sent = 0
        #: WebSocket connections made (reconnects included)
        self.connections = 0
        #: seq of the last frame committed for sending, and its value at the kill
        self.committed_seq = 0
        self.seq_at_kill: int | None = None
        self.bytes_sent = 0
        self.grabs = 0
        self.capture_thread_busy = threading.Event()
        self.names: dict[str, str] = {}
        self.user_names: dict[str, str] = {}  # user id -> verified name

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run ``fn(*args)`` on the session loop (now, if already on it)."""
        loop = self.loop
        if loop is None or loop.is_closed():
            return
        if threading.get_ident() == self.loop_thread:
            fn(*args)
        else:
            with contextlib.suppress(RuntimeError):  # loop already closed
                loop.call_soon_threadsafe(fn, *args)

    def mark_ended(self, reason: str, by: str) -> None:
        """Remember why the session ended and wake whoever waits for it."""
        if self.end_reason is None:
            self.end_reason = (reason, by)
        if self.ended_evt is not None:
            self.ended_evt.set()

    def send_desktop_info(self) -> None:
        """Tell viewers (again) what is shared, when it changed (SPEC §3.5)."""
        info = self.desktop.info(self.source)
        if info != self.desktop_sent:
            if self.desktop_sent is None:
                self.observer.notice(describe(self.desktop.capabilities))
            self.desktop_sent = info
            self.send(info)

    def select_monitor(self, monitor: int) -> None:
        """The client shares monitor ``monitor`` (1-based) or all (0) from the next
        frame (loop thread; ``AgentSession.select_monitor`` is the UI's door)."""
        if self.desktop.choose(self.source, monitor) is not None:
            self.observer.notice(_("There is no monitor {n} to share.").format(n=monitor))
            return
        self.log_local("monitor.selected", {"monitor": monitor, "by": "client"}, self.clock())
        self.need_full = True
        self.poke()

    def poke(self) -> None:
        """Wake the capture loop."""
        if self.wake is not None:
            self.wake.set()

    # == viewer names ===================================================================

    @property
    def consent_names(self) -> dict[str, str]:
        """Verified names of viewers announced by ``viewer.joined``."""
        return self.names

    def lookup_name(self, key: str) -> str | None:
        """A verified name for a viewer id or an audit actor (``engineer:<user id>``)."""
        if key in self.names:
            return self.names[key]
        _, _, user_id = key.partition(":")
        return self.user_names.get(user_id or key)

    def name_of(self, viewer_id: str) -> str:
        """The verified name of a viewer."""
        return self.consent_names.get(viewer_id) or self.consent.viewer_name(viewer_id)

    # == helpers ========================================================================

    def send(self, msg: Any) -> None:
        """Queue a control message (never blocks; dropped if disconnected)."""
        ws = self.ws or self.linger_ws
        if ws is None or self.loop is None:
            return
        text = serialize_control(msg)

        async def send() -> None:
            with contextlib.suppress(ConnectionClosed, OSError):
                await ws.send(text)

        self.loop.create_task(send())

    def log_local(
        self,
        event: str,
        detail: dict[str, Any],
        at_ms: int,
        *,
        actor: str = "client",
        name: str | None = None,
    ) -> None:
        """Record in the client's log; forward the events the broker records too."""
        if self.local_log is None:
            return
        shown = dict(detail)
        if name:
            shown["name"] = name[:64]
        self.local_log.record_local(event, shown, at_ms, actor=actor)
        if event in _FORWARDED_EVENTS:
            flat = {k: v for k, v in detail.items() if isinstance(v, (str, int, bool))}
            with contextlib.suppress(ProtocolError, ValueError):
                self.send(LogLocal(event=event, detail=flat))

    def set_phase(self, phase: str, message: str = "") -> None:
        """Set the phase shown to the client and publish the status."""
        self.phase = phase
        self.publish_status(message)

    def publish_status(self, message: str = "") -> None:
        """Tell the observer the session's status."""
        viewers = []
        for viewer_id, (name, role, perms) in self.consent.viewers().items():
            keys = self.keys.peer_keys(viewer_id) if self.keys is not None else None
            viewers.append(
                ViewerStatus(
                    viewer_id,
                    self.consent_names.get(viewer_id, name),
                    role,
                    perms,
                    keys.verification_code if keys else None,
                )
            )
        phase = self.phase
        if self.killswitch.killed:
            phase = "ended"
        elif self.killswitch.paused and phase in ("live", "paused"):
            phase = "paused"
        self.observer.status(
            SessionStatus(
                phase=phase,
                session_id=self.session_id,
                ticket_id=self.ticket.ticket_id if self.ticket else None,
                ticket_title=self.ticket_title or None,
                viewers=tuple(viewers),
                sending=bool(self.keys and self.keys.wrapped) and self.killswitch.capture_allowed(),
                controlled_by=tuple(self.name_of(v) for v in self.consent.viewers_with("control")),
                message=message,
            )
        )
