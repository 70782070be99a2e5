"""``clearpane users`` and ``clearpane broker`` (as a real process, with signals)."""

from __future__ import annotations

import json
import signal
import ssl
import urllib.request
from pathlib import Path

import pytest

from broker.cli import users_main
from tests.helpers import broker_process, stop_process

ROOT = Path(__file__).resolve().parents[2]


def _users(tmp_path: Path, *args: str) -> int:
    return users_main(["--data-dir", str(tmp_path / "data"), *args])


def test_users_add_list_disable_reset(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        _users(
            tmp_path,
            "add",
            "alice",
            "--role",
            "engineer",
            "--skills",
            "windows, printers",
            "--name",
            "Alice A",
        )
        == 0
    )
    out = capsys.readouterr().out
    assert "added alice (engineer)" in out
    first_password = out.split("password: ")[1].strip()
    assert len(first_password) == 20
    assert _users(tmp_path, "list") == 0
    out = capsys.readouterr().out
    line = next(x for x in out.splitlines() if x.startswith("alice"))
    assert (
        "engineer" in line and "active" in line and "printers,windows" in line and "Alice A" in line
    )
    assert _users(tmp_path, "add", "alice", "--role", "engineer") == 1
    assert "taken" in capsys.readouterr().err
    assert _users(tmp_path, "disable", "alice") == 0
    capsys.readouterr()
    _users(tmp_path, "list")
    assert "disabled" in next(
        x for x in capsys.readouterr().out.splitlines() if x.startswith("alice")
    )
    assert _users(tmp_path, "reset-password", "alice") == 0
    second = capsys.readouterr().out.split("password: ")[1].strip()
    assert second != first_password
    assert _users(tmp_path, "disable", "nobody") == 1
    with pytest.raises(SystemExit):
        _users(tmp_path, "add", "bob", "--role", "wizard")


def test_users_password_is_hashed_and_verifies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from broker.auth.passwords import PasswordService
    from broker.store import queries
    from broker.store.db import Database

    _users(tmp_path, "add", "carol", "--role", "reviewer")
    password = capsys.readouterr().out.split("password: ")[1].strip()

    async def check() -> None:
        db = Database.open(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'clearpane.db'}")
        try:
            found = await queries.get_credentials(db, "carol")
            assert found is not None and found[1].startswith("$argon2id$")
            assert PasswordService().verify(found[1], password)
        finally:
            await db.close()

    asyncio.run(check())


def test_broker_command_first_start_then_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with broker_process(data) as bp:
        text = bp.output.text
        assert "username: admin" in text and "shown only once" in text
        url = bp.url
        assert url.startswith("https://127.0.0.1:")
        enrollment = json.loads((data / "enrollment.json").read_text())
        assert enrollment["broker_url"] == url and "BEGIN CERTIFICATE" in enrollment["ca_pem"]
        ctx = ssl.create_default_context(cadata=enrollment["ca_pem"])
        with urllib.request.urlopen(url + "/api/v1/health", context=ctx, timeout=5) as r:
            assert json.load(r)["status"] == "ok"
        assert stop_process(bp.proc, signal.SIGTERM) == 0
    # Second start: same CA, no new admin password printed.
    with broker_process(data) as bp:
        assert "password" not in bp.output.text
        assert json.loads((data / "enrollment.json").read_text())["ca_pem"] == enrollment["ca_pem"]
        assert stop_process(bp.proc, signal.SIGINT) == 0


def test_broker_command_rejects_bad_config(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from broker.cli import main

    monkeypatch.setenv("CLEARPANE_SLA_ESCALATION_FRACTION", "2")
    assert main(["--data-dir", str(tmp_path)]) == 2
    assert "sla_escalation_fraction" in capsys.readouterr().err
    monkeypatch.setenv("CLEARPANE_SLA_ESCALATION_FRACTION", "0.5")
    assert main(["--data-dir", str(tmp_path), "--port", "99999"]) == 2
    assert "port" in capsys.readouterr().err
