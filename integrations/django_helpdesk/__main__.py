"""``python -m integrations.django_helpdesk``: run the connector until SIGINT/SIGTERM
(settings from ``CLEARPANE_CONNECTOR_*``; docs/integrations.md)."""

from __future__ import annotations

import asyncio
import logging
import signal
import sys

from integrations.django_helpdesk.config import ConfigError, ConnectorConfig
from integrations.django_helpdesk.connector import Connector


async def _main(config: ConnectorConfig) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    connector = Connector(config)
    try:
        await connector.run(stop)
    finally:
        await connector.close()


def main() -> int:
    """Entry point; returns the exit status."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    try:
        config = ConnectorConfig.from_env()
    except ConfigError as exc:
        print(f"clearpane django-helpdesk connector: {exc}", file=sys.stderr)
        return 2
    asyncio.run(_main(config))
    return 0


if __name__ == "__main__":
    sys.exit(main())
