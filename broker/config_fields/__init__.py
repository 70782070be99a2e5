"""The broker's settings, each declared once: its field carries the parser of its
environment variable (``CLEARPANE_`` + the upper-case field name), the flag that
overrides it and its documentation (:func:`setting`). :class:`broker.config.BrokerConfig`
adds construction, derived values and checks to these fields; the table in
docs/configuration.md is generated from them.

Owns: the declaration helpers (:mod:`.declare`) and one module per group of settings
(:mod:`.server`, :mod:`.workflow`, :mod:`.access`, :mod:`.integration`,
:mod:`.sessions`, :mod:`.security`, :mod:`.cluster`, :mod:`.oidc`). A new setting goes
at the end of its group; :class:`ConfigFields` joins the groups.
"""

from __future__ import annotations

from dataclasses import dataclass

from broker.config_fields.access import AccessFields
from broker.config_fields.cluster import ClusterFields
from broker.config_fields.declare import ENV_PREFIX, env_name, parse_bool, parse_list, setting
from broker.config_fields.integration import IntegrationFields
from broker.config_fields.oidc import OidcFields
from broker.config_fields.security import SecurityFields
from broker.config_fields.server import ServerFields
from broker.config_fields.sessions import SessionFields
from broker.config_fields.workflow import WorkflowFields

__all__ = ["ENV_PREFIX", "ConfigFields", "env_name", "parse_bool", "parse_list", "setting"]


# The groups in reverse: a dataclass takes its bases' fields last base first, so the
# fields (and the generated table) read server, workflow, access, ... oidc.
@dataclass(frozen=True, slots=True)
class ConfigFields(
    OidcFields,
    ClusterFields,
    SecurityFields,
    SessionFields,
    IntegrationFields,
    AccessFields,
    WorkflowFields,
    ServerFields,
):
    """Every setting of the broker process, with its default (see docs/configuration.md)."""
