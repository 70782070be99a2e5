"""The broker's store: SQLAlchemy 2 typed models (:mod:`.models`), the database
handle and migrations (:mod:`.db`), and the query functions everyone else calls
(:mod:`.queries`)."""

from broker.store.db import Database

__all__ = ["Database"]
