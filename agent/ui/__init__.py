"""The agent's Qt window (PySide6). It only calls into the session and the pure
state machines (consent, kill switch); see ``agent.ui.bridge`` for how the asyncio
session runs next to Qt (a background thread with its own loop, Qt signals back)."""

__all__: list[str] = []
