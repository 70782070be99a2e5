"""``clearpane agent``: the client's program.

    clearpane agent --enrollment enrollment.json --describe "My printer is offline"
    clearpane agent --broker https://help.example.com --ca org-ca.pem --code 4821-7730
    clearpane agent --enrollment enrollment.json --headless --describe "disk full"

Without ``--headless`` the Qt window opens (and asks for the description or the
code itself if none is given). Exit status: 0 after a normal end, 1 after a
failure or refusal, 2 for bad arguments, 3 after the kill switch.
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from agent.config import AgentConfig
from agent.errors import ConfigError
from agent.i18n import SUPPORTED, set_language
from agent.observer import SessionOutcome


def build_parser() -> argparse.ArgumentParser:
    """The argument parser (also documents every flag)."""
    p = argparse.ArgumentParser(
        prog="clearpane agent",
        description="Ask your help desk for help. Nobody sees your screen until you allow it.",
    )
    where = p.add_argument_group("where is the help desk")
    where.add_argument("--enrollment", metavar="FILE", help="enrollment file from your admin")
    where.add_argument("--broker", metavar="URL", help="broker URL, e.g. https://help.example.com")
    where.add_argument("--ca", metavar="FILE", help="the organisation CA certificate (PEM)")
    where.add_argument(
        "--client-cert", metavar="FILE", type=Path, help="managed agents: client certificate (PEM)"
    )
    where.add_argument(
        "--client-key",
        metavar="FILE",
        type=Path,
        help="managed agents: its key (passphrase in CLEARPANE_CLIENT_KEY_PASSPHRASE)",
    )
    what = p.add_mutually_exclusive_group()
    what.add_argument("--describe", metavar="TEXT", help="describe the problem (new request)")
    what.add_argument("--code", metavar="CODE", help="the code an engineer gave you")
    p.add_argument("--name", metavar="NAME", help="your name as the engineer will see it")
    p.add_argument("--headless", action="store_true", help="terminal mode (no window)")
    p.add_argument(
        "--source",
        metavar="SPEC",
        help="what to share: screen (default), pattern, pattern:WxH, sequence:DIR",
    )
    p.add_argument(
        "--monitor", metavar="WHICH", help="monitor to share: primary (default), all, 2, NAME"
    )
    p.add_argument(
        "--monitor-switch",
        action="store_true",
        help="let the engineer switch to your other monitors",
    )
    p.add_argument("--log-dir", metavar="DIR", type=Path, help="where to keep session logs")
    p.add_argument(
        "--injector", choices=["auto", "xtest", "xdotool", "none"], help="how input is applied"
    )
    p.add_argument("--max-fps", type=float, help="upper bound of the frame rate")
    p.add_argument(
        "--video",
        choices=["auto", "off", "vp9", "h264", "av1"],
        help="send the screen as video (auto: the fastest codec the viewer decodes; default off)",
    )
    p.add_argument(
        "--auto-consent-for-tests",
        metavar="PERMS",
        help=argparse.SUPPRESS,  # tests and demos only; never offered to clients
    )
    p.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    p.add_argument(
        "--lang",
        choices=SUPPORTED,
        help="language of the window and terminal (default: from LANG/LC_*, CLEARPANE_LANG)",
    )
    return p


def config_from_args(args: argparse.Namespace) -> AgentConfig:
    """Merge the environment and the flags into a checked config."""
    auto = None
    if args.auto_consent_for_tests is not None:
        auto = [s for s in args.auto_consent_for_tests.split(",") if s.strip()]
    cfg = AgentConfig.from_env(
        enrollment=args.enrollment,
        ca=args.ca,
        client_cert=args.client_cert,
        client_key=args.client_key,
        broker_url=args.broker.rstrip("/") if args.broker else None,
        describe=args.describe,
        code=args.code,
        client_name=args.name,
        headless=args.headless or None,
        source=args.source,
        monitor=args.monitor,
        monitor_switch=args.monitor_switch or None,
        log_dir=args.log_dir,
        injector=args.injector,
        max_fps=args.max_fps,
        video=args.video,
        auto_consent_for_tests=auto,
    )
    if cfg.auto_consent_for_tests is not None and not cfg.headless:
        raise ConfigError("--auto-consent-for-tests exists only in --headless mode")
    if cfg.headless and cfg.describe is None and cfg.code is None:
        raise ConfigError("headless mode needs --describe TEXT or --code CODE")
    return cfg.check()


def _exit_code(outcome: SessionOutcome) -> int:
    if outcome.reason == "killed_by_client":
        return 3
    if outcome.reason in ("failed", "auth_failed"):
        return 1
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of ``clearpane agent``."""
    args = build_parser().parse_args(list(sys.argv[1:] if argv is None else argv))
    set_language(args.lang)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.WARNING,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    try:
        config = config_from_args(args)
    except ConfigError as exc:
        print(f"clearpane agent: {exc}", file=sys.stderr)
        return 2
    if config.headless:
        from agent.headless import no_terminal_reason, run_headless

        refused = no_terminal_reason(config)
        if refused is not None:
            print(f"clearpane agent: {refused}", file=sys.stderr)
            return 2
        return _exit_code(run_headless(config))
    from agent.ui.app import run_window

    return run_window(config)
