"""The agent's Qt window (PySide6). It only calls into the session and the pure
state machines (consent, kill switch); see ``agent.ui.bridge`` for how the asyncio
session runs next to Qt (a background thread with its own loop, Qt signals back).

``agent.ui.qt_window`` is the window; ``agent.ui.call_panel`` its video-call panel
(the engineer's camera, the client's preview, mute and hang up); ``agent.ui.app``
starts both."""

__all__: list[str] = []
