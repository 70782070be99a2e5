"""Configuration, enrollment files, the command line and the terminal consent."""

from __future__ import annotations

import io
import json
import time
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization

from agent.cli import build_parser, config_from_args, main
from agent.config import AgentConfig, load_enrollment
from agent.consent import ConsentMachine, Decision
from agent.errors import ConfigError
from agent.headless import TerminalUI
from agent.observer import SessionOutcome
from certs.testing import MemoryPki

PEM = MemoryPki.create().root.root.public_bytes(serialization.Encoding.PEM).decode()


def enrollment(tmp_path: Path, **extra: Any) -> Path:
    path = tmp_path / "enrollment.json"
    path.write_text(
        json.dumps({"broker_url": "https://help.example.com:8443/", "ca_pem": PEM, **extra})
    )
    return path


def test_enrollment_file_and_env(tmp_path: Path) -> None:
    path = enrollment(tmp_path, checkpoint_signer_pem="SIGNER")
    assert load_enrollment(path) == ("https://help.example.com:8443", PEM, "SIGNER")
    env = {
        "CLEARPANE_ENROLLMENT": str(path),
        "CLEARPANE_CLIENT_NAME": "Carol",
        "CLEARPANE_MAX_FPS": "10",
    }
    cfg = AgentConfig.from_env(env, describe="printer").check()
    assert cfg.broker_url == "https://help.example.com:8443" and cfg.client_name == "Carol"
    assert cfg.ws_url == "wss://help.example.com:8443/ws/agent" and cfg.max_fps == 10
    assert cfg.checkpoint_signer_pem == "SIGNER"
    assert PEM not in repr(cfg)  # keys and certificates stay out of logs


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"broker_url": "http://help.example.com"}, "https://"),
        ({"ca_pem": ""}, "CA"),
        ({"describe": "x", "code": "y"}, "either"),
        ({"injector": "magic"}, "--injector"),
        ({"max_fps": 500.0}, "--max-fps"),
    ],
)
def test_check_names_the_problem(changes: dict[str, Any], message: str) -> None:
    base = AgentConfig(broker_url="https://h", ca_pem=PEM)
    base.check()
    with pytest.raises(ConfigError, match=message):
        base.with_overrides(**changes).check()


def test_bad_enrollment_files(tmp_path: Path) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text("not json")
    with pytest.raises(ConfigError, match="not JSON"):
        load_enrollment(bad)
    bad.write_text(json.dumps({"broker_url": 3}))
    with pytest.raises(ConfigError, match="broker_url"):
        load_enrollment(bad)
    with pytest.raises(ConfigError, match="cannot read"):
        load_enrollment(tmp_path / "missing.json")


def test_cli_flags(tmp_path: Path) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(PEM)
    args = build_parser().parse_args(
        ["--broker", "https://b.example/", "--ca", str(ca), "--code", "4821-7730", "--headless",
         "--source", "pattern", "--log-dir", str(tmp_path), "--auto-consent-for-tests", "view,control"]
    )  # fmt: skip
    cfg = config_from_args(args)
    assert cfg.broker_url == "https://b.example" and cfg.code == "4821-7730" and cfg.headless
    assert cfg.auto_consent_for_tests == ("view", "control") and cfg.log_dir == tmp_path
    # the test-only flag is not advertised to clients
    assert "auto-consent" not in build_parser().format_help()


def test_cli_errors_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    ca = tmp_path / "ca.pem"
    ca.write_text(PEM)
    assert main(["--broker", "https://b", "--ca", str(ca), "--headless"]) == 2
    assert "--describe" in capsys.readouterr().err
    assert main(["--broker", "http://b", "--ca", str(ca), "--headless", "--describe", "x"]) == 2
    # the test-only auto consent is refused outside headless mode (never in the window)
    assert main(["--broker", "https://b", "--ca", str(ca), "--describe", "x",
                 "--auto-consent-for-tests", "view"]) == 2  # fmt: skip
    assert "only in --headless" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["--describe", "x", "--code", "y"])  # argparse: mutually exclusive


class FakeSession:
    def __init__(self) -> None:
        self.consent = ConsentMachine()
        self.answers: list[tuple[str, list[str]]] = []
        self.shown: list[str] = []
        self.killed: list[str] = []
        self.chats: list[str] = []
        self.ratings: list[int] = []

    def mark_shown(self, rid: str) -> None:
        self.shown.append(rid)

    def answer(self, rid: str, allowed: list[str]) -> None:
        self.answers.append((rid, list(allowed)))

    def kill(self, source: str = "button") -> None:
        self.killed.append(source)

    def send_chat(self, text: str) -> None:
        self.chats.append(text)

    def rate(self, score: int, comment: str = "") -> None:
        self.ratings.append(score)


def test_terminal_asks_each_permission_default_no() -> None:
    out = io.StringIO()
    ui = TerminalUI(out)
    fake = FakeSession()
    ui.session = fake  # type: ignore[assignment]
    now = time.time_ns() // 1_000_000
    prompt = fake.consent.request(
        request_id="c1", viewer_id="v1", user_id="u1", user_name="Alice", role="engineer",
        ticket_id="T-1", ticket_title="Printer", permissions=["view", "control", "video"], now_ms=now,
    )  # fmt: skip
    ui.prompt(prompt)
    assert fake.shown == ["c1"]
    text = out.getvalue()
    assert "Alice" in text and "T-1" in text and "see your screen? [y/N]" in text
    ui.handle_line("y\n")
    ui.handle_line("\n")  # Enter alone is no
    ui.handle_line("yes\n")
    assert fake.answers == [("c1", ["view", "video"])]
    ui.prompt_closed(Decision("c1", "v1", ("view", "video"), ("control",), "answered"))
    ui.handle_line("say hello there\n")
    # at the end, a rating from 1 to 5
    ui.rating_enabled = True
    ui.ended(SessionOutcome("ended_by_engineer", "Alice"))
    assert "1 to 5" in out.getvalue()
    ui.handle_line("4\n")
    assert fake.ratings == [4]
    ui.handle_line("kill\n")
    assert fake.chats == ["hello there"] and fake.killed == ["terminal"]


def test_headless_without_a_terminal_refuses_to_start(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Issue 20 item 2: no terminal on stdin means nobody can consent, kill or rate —
    the agent says so and exits 2 before contacting the broker."""
    import io

    ca = tmp_path / "ca.pem"
    ca.write_text(PEM)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    argv = ["--broker", "https://b.invalid", "--ca", str(ca), "--headless", "--describe", "x"]
    assert main([*argv, "--lang", "en"]) == 2
    err = capsys.readouterr().err
    assert "needs a person at a terminal" in err and "ssh -t" in err
    assert main([*argv, "--lang", "ru"]) == 2
    assert "терминал" in capsys.readouterr().err
    from agent.i18n import set_language

    set_language("en")
