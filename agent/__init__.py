"""The client's desktop agent: capture → mask → diff → encode → encrypt → send,
plus consent, kill switch, input, the Qt window and headless mode.

The agent is the client's guardian: whatever the broker says, it enforces the
client's guarantees itself. Pure state machines at the centre, I/O around them:

- ``agent.consent`` — who may do what (view, control, video); prompts, timeouts (deny),
  revocation. ``agent.killswitch`` — kill (final) and pause; the capture flag.
- ``agent.input`` (+ ``agent.keys``, ``agent.inject``) — engineer input applied only
  while ``control`` is held, checked per event; logged as counts and key names.
- ``agent.e2ekeys`` — key agreements, content-key epochs, audit recipient (SPEC §8).
- ``agent.locallog`` — the client's own hash-chained copy of the session log,
  verified against the broker's signed checkpoint at the end.
- ``agent.connection`` / ``agent.session`` (a subpackage split by concern) — dial out (HTTPS, WSS, organisation CA
  pinned), reconnect with backoff, the session loop. ``agent.observer`` is the
  interface to the UIs: ``agent.ui`` (Qt) and ``agent.headless`` (terminal).
- ``agent.cli`` / ``agent.config`` — ``clearpane agent``.
- ``agent.capture`` / ``agent.pipeline`` — the screen pipeline; ``agent.call`` — video
  calls; ``agent.trust`` — CA pin refresh. ``agent.testing`` — fakes for tests.

Modules are imported on demand (the package import pulls in nothing heavy).
"""

__all__: list[str] = []
