"""No fixed sleeps in tests (issue 12): a test waits on an event or with
``tests.helpers.eventually``; to show that something did *not* happen it waits for a
later event that must follow, then asserts. A sleep that is not a wait (sampling a
clock, a fake that takes time like the real thing) says why with ``# sleep-ok: …`` on
its line.

The check reads the source with :mod:`ast`: ``asyncio.sleep(<number>)`` and
``time.sleep(<number>)`` other than ``sleep(0)`` (a yield to the event loop), and every
``wait_for_timeout(…)`` (Playwright's fixed wait).
"""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parent


def _fixed(node: ast.Call) -> bool:
    func = node.func
    if not isinstance(func, ast.Attribute):
        return False
    if func.attr == "wait_for_timeout":
        return True
    if func.attr != "sleep" or not isinstance(func.value, ast.Name):
        return False
    if func.value.id not in {"asyncio", "time"} or not node.args:
        return False
    arg = node.args[0]
    return isinstance(arg, ast.Constant) and isinstance(arg.value, int | float) and arg.value != 0


def fixed_sleeps(root: Path = TESTS) -> list[str]:
    """``file:line: text`` for every fixed sleep under ``root`` not marked ``sleep-ok``."""
    found: list[str] = []
    for path in sorted(root.rglob("*.py")):
        source = path.read_text(encoding="utf-8")
        lines = source.splitlines()
        for node in ast.walk(ast.parse(source, filename=str(path))):
            if isinstance(node, ast.Call) and _fixed(node):
                span = lines[node.lineno - 1 : (node.end_lineno or node.lineno)]
                if not any("sleep-ok:" in line for line in span):
                    where = path.relative_to(root.parent)
                    found.append(f"{where}:{node.lineno}: {lines[node.lineno - 1].strip()}")
    return found


def test_no_fixed_sleeps_in_tests() -> None:
    found = fixed_sleeps()
    assert not found, "fixed sleeps (wait on an event or use eventually()):\n" + "\n".join(found)


def test_the_sleep_check_finds_one(tmp_path: Path) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "test_x.py").write_text(
        "async def f(page):\n"
        "    await asyncio.sleep(0.2)\n"
        "    await asyncio.sleep(0)\n"
        "    time.sleep(1)  # sleep-ok: why\n"
        "    await page.wait_for_timeout(500)\n"
        "    await asyncio.sleep(\n        0.3\n    )\n"
    )
    found = fixed_sleeps(tmp_path)
    assert [f.split(":")[1] for f in found] == ["2", "5", "6"], found
