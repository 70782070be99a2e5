"""The ``clearpane`` dispatcher: every subcommand resolves, unknown ones fail clearly."""

from __future__ import annotations

import ast
import importlib
from pathlib import Path

import pytest

from cli.main import SUBCOMMANDS, main


def test_help_lists_every_subcommand(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--help"]) == 0
    out = capsys.readouterr().out
    for name in SUBCOMMANDS:
        assert name in out


def test_unknown_subcommand_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["frobnicate"]) == 2
    assert "unknown subcommand 'frobnicate'" in capsys.readouterr().err


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_resolves_to_a_callable(name: str) -> None:
    module_name, func_name, _ = SUBCOMMANDS[name]
    module = importlib.import_module(module_name)
    assert callable(getattr(module, func_name))


def test_dispatcher_stays_thin() -> None:
    """cli/ may import broker and agent only lazily, through importlib."""
    for path in Path("cli").glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import | ast.ImportFrom):
                names = (
                    [a.name for a in node.names]
                    if isinstance(node, ast.Import)
                    else [node.module or ""]
                )
                for n in names:
                    assert n.split(".")[0] not in {"broker", "agent"}, f"{path}: imports {n}"


def test_only_cli_imports_broker_or_agent() -> None:
    """DESIGN §3: nothing imports broker or agent (except each from itself)."""
    for pkg in ("protocol", "audit", "certs", "broker", "agent"):
        for path in Path(pkg).rglob("*.py"):
            tree = ast.parse(path.read_text())
            for node in ast.walk(tree):
                mods: list[str] = []
                if isinstance(node, ast.Import):
                    mods = [a.name for a in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    mods = [node.module]
                for m in mods:
                    top = m.split(".")[0]
                    if top in {"broker", "agent"}:
                        assert top == pkg, f"{path} imports {m}"
