"""The agent's configuration: one frozen dataclass, from the environment and flags.

Every environment variable the agent reads is declared once, in :data:`ENVIRONMENT`
(name, flag, meaning); docs/configuration.md's agent table is generated from it
(``python -m agent.config``) and tests/agent/test_config_env.py fails when a variable
is read somewhere in agent/ but not declared, or the docs differ. Flags win over
variables.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from agent.consent import Permission, parse_permissions
from agent.errors import ConfigError

_INJECTORS = ("auto", "xtest", "xdotool", "none")
_VIDEO_MODES = ("auto", "off", "vp9", "h264", "av1")


@dataclass(frozen=True, slots=True)
class EnvVar:
    """One ``CLEARPANE_*`` variable of the agent: its flag (``—``: none) and meaning."""

    name: str
    flag: str
    doc: str


ENVIRONMENT: tuple[EnvVar, ...] = (
    EnvVar(
        "CLEARPANE_ENROLLMENT",
        "`--enrollment`",
        'Enrollment file `{"broker_url", "ca_pem"}` from the admin.',
    ),
    EnvVar(
        "CLEARPANE_BROKER_URL",
        "`--broker`",
        "Broker base URL (`https://host:port`), instead of an enrollment file.",
    ),
    EnvVar(
        "CLEARPANE_CA", "`--ca`", "The organisation CA (PEM file) to trust — the only CA trusted."
    ),
    EnvVar("CLEARPANE_CLIENT_NAME", "`--name`", "The client's name shown to the engineer."),
    EnvVar("CLEARPANE_SOURCE", "`--source`", "`screen` (default), `pattern`, `sequence:DIR`."),
    EnvVar(
        "CLEARPANE_MONITOR",
        "`--monitor`",
        "Which monitor to share: `primary` (default), `all`, a number (1 = primary) or a RandR name.",
    ),
    EnvVar(
        "CLEARPANE_MONITOR_SWITCH",
        "`--monitor-switch`",
        "`1`: the engineer may switch between the client's monitors.",
    ),
    EnvVar(
        "CLEARPANE_LOG_DIR",
        "`--log-dir`",
        "Where session logs are kept (default `~/.local/share/clearpane/sessions`).",
    ),
    EnvVar(
        "CLEARPANE_INJECTOR",
        "`--injector`",
        "`auto` (XTest, else xdotool), `xtest`, `xdotool`, `none`.",
    ),
    EnvVar(
        "CLEARPANE_MAX_FPS", "`--max-fps`", "Upper bound of the adaptive frame rate (default 30)."
    ),
    EnvVar(
        "CLEARPANE_VIDEO",
        "`--video`",
        "Screen as video: `auto` (default: measured at the first viewer that offers video; the best codec it decodes that is fast enough for live view, else the tile path), `off` (the tile path only), `vp9`, `h264`, `av1` (forced, unmeasured).",
    ),
    EnvVar(
        "CLEARPANE_CLIENT_CERT",
        "`--client-cert`",
        "Managed agents: client certificate (PEM) for mutual TLS.",
    ),
    EnvVar(
        "CLEARPANE_CLIENT_KEY",
        "`--client-key`",
        "Managed agents: its private key (PEM, usually encrypted).",
    ),
    EnvVar(
        "CLEARPANE_CLIENT_KEY_PASSPHRASE",
        "—",
        "The key's passphrase (never a flag: it would show in `ps`).",
    ),
    EnvVar(
        "CLEARPANE_LANG",
        "`--lang`",
        "`ru` or `en`: language of the window and terminal (default: from `LANGUAGE`, `LC_ALL`, `LC_MESSAGES`, `LANG`; docs/i18n.md).",
    ),
    EnvVar(
        "CLEARPANE_ICE_SERVERS",
        "—",
        "STUN/TURN servers for calls, a JSON list (usually handed over by the broker; docs/video-calls.md).",
    ),
    EnvVar(
        "CLEARPANE_CALL_VIDEO",
        "—",
        "Camera: `auto`, `v4l2:/dev/videoN`, `synthetic[:WxH@FPS]`, `none` (docs/video-calls.md).",
    ),
    EnvVar(
        "CLEARPANE_HIGH_CONTRAST",
        "—",
        "`1` forces the window's high-contrast look (system colours only), `0` refuses it; unset: follows the system palette (docs/accessibility.md).",
    ),
    EnvVar(
        "CLEARPANE_CALL_AUDIO",
        "—",
        "Microphone: `auto`, `pulse:SRC`, `alsa:DEV`, `synthetic[:HZ]`, `none`.",
    ),
)


def markdown_table() -> str:
    """The agent's variable table of docs/configuration.md, from :data:`ENVIRONMENT`."""
    lines = ["| variable | flag | meaning |", "|---|---|---|"]
    lines += [f"| `{v.name}` | {v.flag} | {v.doc} |" for v in ENVIRONMENT]
    return "\n".join(lines) + "\n"


@dataclass(frozen=True, slots=True)
class AgentConfig:
    """Everything ``clearpane agent`` needs; validated by :meth:`check`."""

    broker_url: str = ""
    ca_pem: str = field(default="", repr=False)
    #: The broker's checkpoint-signer certificate (optional, from the enrollment file):
    #: lets the agent check the signature of the log's checkpoint.
    checkpoint_signer_pem: str = field(default="", repr=False)
    #: The enrollment file the pin came from; a CA rotation endorsed by a pinned root
    #: is written back to it (``agent.trust``).
    enrollment_path: Path | None = None
    #: A managed agent's client certificate and key (mutual TLS; optional).
    client_cert: Path | None = None
    client_key: Path | None = None
    client_key_passphrase: bytes | None = field(default=None, repr=False)
    client_name: str = ""
    describe: str | None = None
    code: str | None = None
    headless: bool = False
    source: str = "screen"
    #: The monitor the client shares (``agent.desktop.layout.Layout.resolve``).
    monitor: str = "primary"
    #: The client lets the engineer switch to another of its monitors (or all).
    monitor_switch: bool = False
    log_dir: Path | None = None
    injector: str = "auto"
    #: 30, not 20 or 60: P5 glass-to-glass p95 56 ms at 30 (61 ms at 20) while an idle
    #: screen costs ≈ 11 % of a core (23 % at 60) — docs/BENCHMARKS.md, P5.
    max_fps: float = 30.0
    consent_timeout_s: float = 60.0
    #: ``auto``: measure the codecs at the first viewer that offers video and use
    #: the best its browser decodes that is fast enough for live view (else the tile
    #: path); ``off``: the tile path only (agent.video). ``auto`` by default since
    #: H.264 reached P5 p95 73 ms (tiles 47 ms, same run, shared machine; 81 ms on a
    #: real X screen with the damage wake-up) and the ranking drops a codec too slow
    #: for a small change (docs/BENCHMARKS.md, P5).
    video: str = "auto"
    #: Tests and demos only: answer every prompt with these permissions. Never
    #: offered by the window; the flag is named so nobody mistakes it for a feature.
    auto_consent_for_tests: tuple[Permission, ...] | None = None
    notify_timeout_s: float = 1.0
    #: After a normal end, keep the socket open this long for the client's rating.
    rating_wait_s: float = 0.0
    #: After the end, ask the broker this long whether the engineer resolved the ticket,
    #: so the client can confirm or reopen it (0: not asked; the window sets it).
    closure_watch_s: float = 0.0
    closure_poll_s: float = 15.0
    reconnect_max_s: float = 30.0

    @property
    def ws_url(self) -> str:
        """``wss://host:port/ws/agent`` derived from the broker URL."""
        parts = urlsplit(self.broker_url)
        return f"wss://{parts.netloc}/ws/agent"

    def check(self) -> AgentConfig:
        """Raise ``ConfigError`` naming the first problem; return self when sound."""
        parts = urlsplit(self.broker_url)
        if parts.scheme != "https" or not parts.netloc:
            raise ConfigError("the broker URL must be https://HOST[:PORT] (--broker or enrollment)")
        if "BEGIN CERTIFICATE" not in self.ca_pem:
            raise ConfigError("the organisation CA is missing (--ca FILE or enrollment file)")
        if self.describe is not None and self.code is not None:
            raise ConfigError("give either a description or a code, not both")
        if self.injector not in _INJECTORS:
            raise ConfigError(f"--injector must be one of {', '.join(_INJECTORS)}")
        if self.video not in _VIDEO_MODES:
            raise ConfigError(f"--video must be one of {', '.join(_VIDEO_MODES)}")
        if not 0.5 <= self.max_fps <= 60:
            raise ConfigError("--max-fps must be between 0.5 and 60")
        if not 1 <= self.consent_timeout_s <= 60:
            raise ConfigError("the consent timeout must be between 1 and 60 seconds")
        return self

    def client_identity(self) -> dict[str, Any]:
        """Keyword arguments for ``make_ssl_context``: the managed agent's client
        certificate (mutual TLS), or nothing."""
        return {
            "client_cert": self.client_cert,
            "client_key": self.client_key,
            "key_password": self.client_key_passphrase,
        }

    def with_overrides(self, **changes: Any) -> AgentConfig:
        """A copy with the non-None ``changes`` applied."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, **overrides: Any) -> AgentConfig:
        """Build from ``CLEARPANE_*`` variables, then apply ``overrides`` (flags)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        enrollment = overrides.pop("enrollment", None) or env.get("CLEARPANE_ENROLLMENT")
        if enrollment:
            url, pem, signer = load_enrollment(Path(enrollment))
            values.update(
                broker_url=url,
                ca_pem=pem,
                checkpoint_signer_pem=signer,
                enrollment_path=Path(enrollment),
            )
        if env.get("CLEARPANE_BROKER_URL"):
            values["broker_url"] = env["CLEARPANE_BROKER_URL"]
        ca = overrides.pop("ca", None) or env.get("CLEARPANE_CA")
        if ca:
            values["ca_pem"] = _read(Path(ca), "CA file")
        for var, key in (
            ("CLEARPANE_CLIENT_NAME", "client_name"),
            ("CLEARPANE_SOURCE", "source"),
            ("CLEARPANE_MONITOR", "monitor"),
            ("CLEARPANE_INJECTOR", "injector"),
            ("CLEARPANE_VIDEO", "video"),
        ):
            if env.get(var):
                values[key] = env[var]
        if env.get("CLEARPANE_MONITOR_SWITCH") in ("1", "true", "yes"):
            values["monitor_switch"] = True
        if env.get("CLEARPANE_LOG_DIR"):
            values["log_dir"] = Path(env["CLEARPANE_LOG_DIR"])
        for var, key in (
            ("CLEARPANE_CLIENT_CERT", "client_cert"),
            ("CLEARPANE_CLIENT_KEY", "client_key"),
        ):
            if env.get(var):
                values[key] = Path(env[var])
        if env.get("CLEARPANE_CLIENT_KEY_PASSPHRASE"):
            values["client_key_passphrase"] = env["CLEARPANE_CLIENT_KEY_PASSPHRASE"].encode()
        if env.get("CLEARPANE_MAX_FPS"):
            try:
                values["max_fps"] = float(env["CLEARPANE_MAX_FPS"])
            except ValueError as exc:
                raise ConfigError("CLEARPANE_MAX_FPS must be a number") from exc
        if not values.get("client_name"):
            values["client_name"] = env.get("USER") or env.get("LOGNAME") or "client"
        auto = overrides.pop("auto_consent_for_tests", None)
        if auto is not None:
            try:
                values["auto_consent_for_tests"] = parse_permissions(auto)
            except ValueError as exc:
                raise ConfigError(str(exc)) from exc
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)


def _read(path: Path, what: str) -> str:
    try:
        return path.expanduser().read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read the {what} {path}: {exc.strerror}") from exc


def load_enrollment(path: Path) -> tuple[str, str, str]:
    """Read an enrollment file; return ``(broker_url, ca_pem, checkpoint_signer_pem)``
    (the last is optional in the file, ``""`` when absent)."""
    try:
        data = json.loads(_read(path, "enrollment file"))
    except json.JSONDecodeError as exc:
        raise ConfigError(f"the enrollment file {path} is not JSON") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"the enrollment file {path} is not a JSON object")
    url, pem = data.get("broker_url"), data.get("ca_pem")
    if not isinstance(url, str) or not isinstance(pem, str):
        raise ConfigError(f"the enrollment file {path} needs 'broker_url' and 'ca_pem'")
    signer = data.get("checkpoint_signer_pem")
    return url.rstrip("/"), pem, signer if isinstance(signer, str) else ""


if __name__ == "__main__":  # pragma: no cover - prints the table for docs/configuration.md
    print(markdown_table(), end="")
