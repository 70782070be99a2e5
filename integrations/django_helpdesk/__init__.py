"""The django-helpdesk connector (docs/integrations.md, "The django-helpdesk
connector"): :class:`~.connector.Connector` polls django-helpdesk's REST API for new
tickets and invites their clients through Clearpane's public API; Clearpane's signed
webhooks bring each session's summary back as a follow-up that resolves the ticket.
Run it with ``python -m integrations.django_helpdesk``."""

from integrations.django_helpdesk.config import ConnectorConfig
from integrations.django_helpdesk.connector import Connector

__all__ = ["Connector", "ConnectorConfig"]
