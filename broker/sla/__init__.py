"""SLA clocks, calendars, escalation chains and closure (DESIGN §10).

:mod:`broker.sla.calendar` and :mod:`broker.sla.clock` are pure (no I/O, time passed
in); the scheduler derives every clock from stored timestamps each time it runs, so a
restart or a second node sees the same state (docs/workflow.md).
"""

__all__: list[str] = []
