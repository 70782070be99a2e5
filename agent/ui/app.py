"""Start the Qt window and, when the client asks for help, the session thread."""

from __future__ import annotations

import signal
import sys
from collections.abc import Callable
from dataclasses import replace

from agent.config import AgentConfig
from agent.i18n import _
from agent.inject import InjectorError, open_injector
from agent.observer import AgentController
from agent.session import AgentSession, load_call_config
from agent.ui.bridge import QtObserver, SessionThread

#: The window keeps the socket open this long after the end so the client can rate.
WINDOW_RATING_WAIT_S = 120.0
#: After the end the window asks this long whether the engineer resolved the ticket,
#: to let the client confirm or reopen it (docs/workflow.md).
WINDOW_CLOSURE_WATCH_S = 30 * 60.0


def make_starter(
    config: AgentConfig, name_of: Callable[[], str] = lambda: ""
) -> tuple[object, list[SessionThread]]:
    """A ``StartSession`` callable for ``AgentWindow`` and the list of threads it starts;
    ``name_of`` gives the name the client typed in the window (engineers see it)."""
    threads: list[SessionThread] = []

    def start(describe: str | None, code: str | None, observer: QtObserver) -> AgentController:
        cfg = replace(
            config,
            describe=describe,
            code=code,
            client_name=name_of() or config.client_name,
            rating_wait_s=WINDOW_RATING_WAIT_S,
            closure_watch_s=WINDOW_CLOSURE_WATCH_S,
        ).check()
        injector = None
        if cfg.injector != "none":
            try:
                injector = open_injector(cfg.injector)
            except InjectorError:
                observer.notice(_("Remote control is not available on this computer."))
        session = AgentSession(cfg, observer, injector=injector, call_config=load_call_config())
        thread = SessionThread(session.run)
        threads.append(thread)
        thread.start()
        return session

    return start, threads


def run_window(config: AgentConfig) -> int:
    """Open the window; returns the process exit status."""
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication

    from agent.ui.qt_window import AgentWindow

    app = QApplication.instance() or QApplication(sys.argv[:1])
    windows: list[AgentWindow] = []
    start, threads = make_starter(config, lambda: windows[0].client_name if windows else "")
    window = AgentWindow(start, default_name=config.client_name)  # type: ignore[arg-type]
    windows.append(window)
    window.show()

    # Ctrl+C / SIGTERM in the terminal that started the window: the kill switch. Qt
    # blocks Python's signal handling while it waits, so a timer lets Python run.
    def on_signal(_signum: int, _frame: object) -> None:
        window.kill("signal")
        app.quit()

    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, on_signal)
    ticker = QTimer()
    ticker.timeout.connect(lambda: None)
    ticker.start(200)
    if config.describe is not None:
        window.describe_edit.setPlainText(config.describe)
        window.get_help.click()
    elif config.code is not None:
        window.code_edit.setText(config.code)
        window.code_button.click()
    status = app.exec()
    for thread in threads:
        thread.join(timeout=5)
    return int(status)
