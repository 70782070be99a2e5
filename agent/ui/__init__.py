"""The agent's Qt window (PySide6). It only calls into the session and the pure
state machines (consent, kill switch); see ``agent.ui.bridge`` for how the asyncio
session runs next to Qt (a background thread with its own loop, Qt signals back).

``agent.ui.qt_window`` composes the window from one module per part: ``start_page``
(name, problem or code), ``status_panel`` (the status strip and who is connected),
``control_bar`` (call, take back control, pause, kill, the control banner),
``code_box`` (verification codes), ``ring_box`` (an incoming call),
``call_panel`` (the engineer's camera, the client's preview, mute and hang up),
``prompts_area`` with one ``consent_panel`` per prompt, ``mask_box``, ``log_chat``
(the live log and the chat) and ``end_page`` (outcome, verification, rating);
``style`` and ``words`` hold the stylesheet and the sentences they share.
``agent.ui.app`` starts the window."""

__all__: list[str] = []
