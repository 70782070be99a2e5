"""The HTTP API under ``/api/v1``: thin handlers per concern, one route table
(:mod:`.routes`) that says who may call what, strict body reading (:mod:`.body`)."""

from broker.api.routes import API_PREFIX, ROUTES, setup_routes

__all__ = ["API_PREFIX", "ROUTES", "setup_routes"]
