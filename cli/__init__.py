"""The ``clearpane`` command: one entry point, one subcommand per part.

It owns nothing but dispatch; each package parses its own arguments, so the
command stays a thin shell over ``broker``, ``agent``, ``certs`` and ``audit``.
It is the only module allowed to import both ``broker`` and ``agent``.
"""

__all__ = ["main"]

from cli.main import main
