"""django-helpdesk's REST API (``/api/tickets/``, ``/api/followups/``), as a staff user
with HTTP Basic authentication (django-helpdesk's API answers staff users only)."""

from __future__ import annotations

import base64
import ssl
from collections.abc import AsyncIterator
from typing import Any

import aiohttp

__all__ = ["HelpdeskClient", "HelpdeskError"]

PAGE_SIZE = 100


class HelpdeskError(Exception):
    """django-helpdesk answered with an error."""


class HelpdeskClient:
    """Tickets and follow-ups of one django-helpdesk (``base_url`` ends where its URLs
    are mounted, e.g. ``https://desk.example.com/helpdesk``)."""

    def __init__(
        self, base_url: str, username: str, password: str, *, ca_file: str | None = None
    ) -> None:
        self.base_url = base_url.rstrip("/")
        pair = base64.b64encode(f"{username}:{password}".encode()).decode()
        self._http = aiohttp.ClientSession(
            connector=aiohttp.TCPConnector(ssl=ssl.create_default_context(cafile=ca_file)),
            headers={"Authorization": f"Basic {pair}", "Accept": "application/json"},
            timeout=aiohttp.ClientTimeout(total=30),
        )

    async def close(self) -> None:
        """Close the HTTP session."""
        await self._http.close()

    async def _call(self, method: str, url: str, *, json: Any = None) -> Any:
        async with self._http.request(method, url, json=json) as response:
            if response.status >= 400:
                raise HelpdeskError(
                    f"{method} {url} answered {response.status}: {(await response.text())[:300]}"
                )
            return await response.json(content_type=None)

    async def open_tickets(self, statuses: tuple[int, ...]) -> AsyncIterator[dict[str, Any]]:
        """Every ticket in one of ``statuses``, page by page (with its follow-ups)."""
        wanted = ",".join(str(s) for s in statuses)
        url: str | None = f"{self.base_url}/api/tickets/?status={wanted}&page_size={PAGE_SIZE}"
        while url:
            page = await self._call("GET", url)
            for ticket in page.get("results", []):
                yield ticket
            url = page.get("next")

    async def ticket(self, ticket_id: int) -> dict[str, Any]:
        """One ticket with its follow-ups."""
        found = await self._call("GET", f"{self.base_url}/api/tickets/{ticket_id}/")
        assert isinstance(found, dict)
        return found

    async def create_ticket(
        self, queue: int, title: str, description: str, *, submitter_email: str = ""
    ) -> dict[str, Any]:
        """Open a ticket in ``queue`` (django-helpdesk validates it with its own form)."""
        body = {"queue": queue, "title": title, "description": description, "priority": 3}
        if submitter_email:
            body["submitter_email"] = submitter_email
        made = await self._call("POST", f"{self.base_url}/api/tickets/", json=body)
        assert isinstance(made, dict)
        return made

    async def add_followup(
        self, ticket_id: int, comment: str, *, public: bool, new_status: int | None = None
    ) -> dict[str, Any]:
        """A follow-up on the ticket; ``new_status`` also changes the ticket's status.
        No ``title``: django-helpdesk would rename the ticket to it."""
        body: dict[str, Any] = {"ticket": ticket_id, "comment": comment, "public": public}
        if new_status is not None:
            body["new_status"] = new_status
        made = await self._call("POST", f"{self.base_url}/api/followups/", json=body)
        assert isinstance(made, dict)
        return made
