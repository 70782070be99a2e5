"""Connectors between Clearpane and the help desks teams already run.

Each connector is a small program of its own: it talks to Clearpane only through the
public HTTP API (an integration account's ``cpk_`` API key) and its signed webhooks, and
to the help desk through that help desk's API. Nothing here imports ``broker`` or
``agent`` (tests/test_layers.py checks it): a connector can be shipped, run and upgraded
apart from the broker. :mod:`integrations.clearpane` is the shared client; each help
desk has a subpackage (:mod:`integrations.django_helpdesk`, the template for the
others: docs/integrations.md).
"""

__all__: list[str] = []
