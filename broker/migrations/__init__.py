"""Alembic migrations of the broker's store (applied on start by
``Database.migrate``)."""
