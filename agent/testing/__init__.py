"""Fakes for tests and demos of the agent (never used by the product itself).

- ``RecordingInjector``: an ``Injector`` that records every call.
- ``CountingSource``: wraps a capture source and counts grabs (and when they happened),
  so tests can prove capture stopped.
- ``RecordingObserver``: a ``SessionObserver`` that keeps everything it is told
  (these three in ``agent.testing.recorders``).
- ``ScriptedViewer`` (``agent.testing.viewer``): the engineer's side over a real
  WebSocket — the Python ``protocol.e2e`` viewer half, counting every screen byte it
  receives.
- ``MachineController`` (``agent.testing.controller``): the window's controller on the
  pure consent and kill-switch machines, no network.
- ``FreezableProxy`` and ``HostileBroker`` (``agent.testing.network``): a proxy that
  can hang like a dead network, and a scripted broker that breaks every rule.
"""

from agent.testing.controller import MachineController
from agent.testing.network import FreezableProxy, HostileBroker
from agent.testing.recorders import CountingSource, RecordingInjector, RecordingObserver
from agent.testing.viewer import ScriptedViewer

__all__ = [
    "CountingSource",
    "FreezableProxy",
    "HostileBroker",
    "MachineController",
    "RecordingInjector",
    "RecordingObserver",
    "ScriptedViewer",
]
