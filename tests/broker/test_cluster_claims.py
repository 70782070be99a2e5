"""Cluster state in the shared store (issue 15): a session's home is claimed atomically
(two nodes racing: exactly one wins, and a dead holder is taken over by one node only),
and the agent-request limit is one count for every node.

On SQLite in the plain run; ``make test-postgres`` runs the same on PostgreSQL, where
the two handles are two connection pools, as two broker nodes have."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from broker.auth.throttle import SharedRateLimiter
from broker.errors import RateLimited
from broker.store.cluster_models import claim_home, get_home, release_home
from broker.store.db import Database
from broker.testing import FakeClock


@pytest.fixture
async def nodes(database_url: str) -> AsyncIterator[tuple[Database, Database]]:
    """Two nodes' handles on one migrated database."""
    a, b = Database.open(database_url), Database.open(database_url)
    await a.migrate()
    yield a, b
    await a.close()
    await b.close()


async def test_two_nodes_racing_for_a_session_one_wins(nodes: tuple[Database, Database]) -> None:
    a, b = nodes
    for sid in ("s1", "s2", "s3"):
        claims = [
            claim_home(db, sid, node, f"https://lb:{port}", at=1)
            for _ in range(8)
            for db, node, port in ((a, "n1", 1), (b, "n2", 2))
        ]
        holders = set(await asyncio.gather(*claims))
        assert len(holders) == 1, holders  # everyone agrees on one winner
        (winner,) = holders
        home = await get_home(b, sid)
        assert home is not None and home.node_id == winner
        assert home.node_url == f"https://lb:{1 if winner == 'n1' else 2}"
        # The loser cannot take it while the winner lives (no takeover asked) ...
        loser = "n2" if winner == "n1" else "n1"
        assert await claim_home(a, sid, loser, None, at=2) == winner
        # ... and the loser's release does not free the winner's claim.
        await release_home(a, sid, loser)
        assert (await get_home(a, sid)) == home


async def test_a_dead_holder_is_taken_over_by_one_node(nodes: tuple[Database, Database]) -> None:
    a, b = nodes
    assert await claim_home(a, "s1", "dead", None, at=1) == "dead"
    takeovers = [
        claim_home(db, "s1", node, None, at=2, takeover_from="dead")
        for _ in range(6)
        for db, node in ((a, "n1"), (b, "n2"))
    ]
    holders = set(await asyncio.gather(*takeovers))
    assert len(holders) == 1 and holders != {"dead"}, holders
    # A stale takeover (from a holder that is no longer the holder) changes nothing.
    (winner,) = holders
    other = "n2" if winner == "n1" else "n1"
    assert await claim_home(b, "s1", other, None, at=3, takeover_from="dead") == winner
    await release_home(b, "s1", winner)
    assert await get_home(a, "s1") is None
    assert await claim_home(b, "s1", other, None, at=4) == other  # free again


async def test_the_agent_request_limit_is_shared_by_the_nodes(
    nodes: tuple[Database, Database],
) -> None:
    clock = FakeClock()
    a, b = (SharedRateLimiter(db, clock, limit=10, window_s=60) for db in nodes)
    # Thirty requests at once from one address (behind one proxy, many clients are one
    # address) through two nodes: exactly the limit passes, none fails otherwise.
    results = await asyncio.gather(
        *(limiter.hit("request:10.0.0.7") for limiter in (a, b) * 15), return_exceptions=True
    )
    refused = [r for r in results if isinstance(r, RateLimited)]
    assert len(refused) == 20 and results.count(None) == 10, results
    assert all(0 < r.retry_after_s <= 6.1 for r in refused)  # one token every 6 s
    with pytest.raises(RateLimited) as exc:
        await b.hit("request:10.0.0.7")
    assert 0 < exc.value.retry_after_s <= 60
    await a.hit("request:10.0.0.8")  # another address has its own count
    clock.advance(61)  # the next window
    await b.hit("request:10.0.0.7")
