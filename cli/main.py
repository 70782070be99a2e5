"""Dispatch ``clearpane SUBCOMMAND ...`` to the package that owns it."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Callable, Sequence

# subcommand -> (module, function, one-line help). Modules are imported lazily so
# that ``clearpane agent`` never loads the broker (and vice versa).
SUBCOMMANDS: dict[str, tuple[str, str, str]] = {
    "broker": ("broker.cli", "main", "run the broker (HTTP API, WebSockets, relay)"),
    "users": ("broker.cli", "users_main", "add, list, disable users; reset passwords"),
    "agent": ("agent.cli", "main", "run the client's desktop agent"),
    "certs": ("cli.certs", "main", "run the certificate authority"),
    "audit": ("cli.audit", "main", "export and verify session evidence"),
}


def _usage() -> str:
    lines = ["usage: clearpane SUBCOMMAND [options]", "", "subcommands:"]
    for name, (_, _, help_text) in SUBCOMMANDS.items():
        lines.append(f"  {name:<8} {help_text}")
    lines.append("")
    lines.append("Run 'clearpane SUBCOMMAND --help' for a subcommand's options.")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``clearpane`` console script."""
    args = list(sys.argv[1:] if argv is None else argv)
    if not args or args[0] in {"-h", "--help", "help"}:
        print(_usage())
        return 0
    name, rest = args[0], args[1:]
    if name not in SUBCOMMANDS:
        print(f"clearpane: unknown subcommand {name!r}\n", file=sys.stderr)
        print(_usage(), file=sys.stderr)
        return 2
    module_name, func_name, _ = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    func: Callable[[list[str]], int] = getattr(module, func_name)
    return func(rest)


if __name__ == "__main__":  # pragma: no cover
    raise SystemExit(main())
