"""The agent's environment variables are declared once (agent.config.ENVIRONMENT): every
``CLEARPANE_*`` name the agent's code reads is declared there, and docs/configuration.md
carries the table generated from it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

from agent.config import ENVIRONMENT, markdown_table

ROOT = Path(__file__).resolve().parents[2]
_VAR = re.compile(r"CLEARPANE_[A-Z][A-Z_]*")


def _variables_in_code() -> dict[str, str]:
    """Each ``CLEARPANE_*`` string constant in agent/ (not docstrings), with one place."""
    found: dict[str, str] = {}
    for path in sorted((ROOT / "agent").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            value = node.value if isinstance(node, ast.Constant) else None
            if isinstance(value, str) and _VAR.fullmatch(value):
                found.setdefault(value, f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_variable_the_agent_reads_is_declared() -> None:
    declared = {v.name for v in ENVIRONMENT}
    used = _variables_in_code()
    undeclared = {name: where for name, where in used.items() if name not in declared}
    assert not undeclared, f"declare these in agent.config.ENVIRONMENT: {undeclared}"
    assert len(declared) == len(ENVIRONMENT), "a variable is declared twice"


def test_docs_carry_the_generated_agent_table() -> None:
    doc = (ROOT / "docs" / "configuration.md").read_text(encoding="utf-8")
    assert markdown_table() in doc, "docs/configuration.md: run python -m agent.config"
