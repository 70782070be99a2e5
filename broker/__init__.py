"""The broker: aiohttp service with the HTTP API, WebSocket endpoints, relay,
queue/SLA, tickets, users and the SQLAlchemy store."""

__all__: list[str] = []
