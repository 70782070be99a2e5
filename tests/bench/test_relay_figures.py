"""bench/relay.py never prints capacity from a run that did not deliver (issue 16)."""

from __future__ import annotations

from typing import Any

from bench.relay import DELIVERED_MIN, GENERATOR_SATURATED, _void_reason, capacity


def _row(mode: str, delivered: float, gen: float, cores: float, us: float) -> dict[str, Any]:
    return {"mode": mode, "sessions": 100, "server_cores": cores, "cpu_us_per_frame": us,
            "delivered_share": delivered, "void": _void_reason(delivered, [gen, 0.1])}  # fmt: skip


def test_full_delivery_from_cool_generators_gives_capacity() -> None:
    rows = {"forwarder": _row("forwarder", 1.0, 0.3, 0.25, 250.0),
            "broker": _row("broker", 0.995, 0.3, 0.5, 500.0)}  # fmt: skip
    got = capacity(rows, "forwarder", "broker")
    assert got["sessions_per_core"] == 200 and got["base_sessions_per_core"] == 400
    assert got["p1_ratio"] == 0.5 and got["p2_ratio"] == 2.0


def test_under_99_percent_delivered_is_refused() -> None:
    rows = {"forwarder": _row("forwarder", 1.0, 0.3, 0.25, 250.0),
            "broker": _row("broker", DELIVERED_MIN - 0.01, 0.3, 0.1, 100.0)}  # fmt: skip
    got = capacity(rows, "forwarder", "broker")
    assert "sessions_per_core" not in got and "p2_ratio" not in got
    assert "delivered" in got["refused"]


def test_a_saturated_generator_voids_the_figure() -> None:
    rows = {"forwarder": _row("forwarder", 1.0, GENERATOR_SATURATED + 0.05, 0.25, 250.0),
            "broker": _row("broker", 1.0, 0.3, 0.5, 500.0)}  # fmt: skip
    got = capacity(rows, "forwarder", "broker")
    assert "sessions_per_core" not in got
    assert "saturated" in got["refused"]
