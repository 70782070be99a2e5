"""protocol/ is Sans-I/O: no module under it imports an I/O or event-loop library."""

import ast
from pathlib import Path

import pytest

import protocol

BANNED = {"asyncio", "aiohttp", "websockets", "socket", "ssl", "trio", "anyio", "selectors"}
ROOT = Path(protocol.__file__).parent
FILES = sorted(ROOT.rglob("*.py"))


def imported_modules(source: str) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
        elif (
            isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute | ast.Name)
            and getattr(node.func, "attr", getattr(node.func, "id", ""))
            in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return found


def test_checker_detects_banned_imports() -> None:
    src = "import asyncio\nfrom ssl import SSLContext\nimport importlib\nimportlib.import_module('socket')\n"
    assert {m.split(".")[0] for m in imported_modules(src)} >= {"asyncio", "ssl", "socket"}


def test_the_package_has_modules() -> None:
    names = {p.name for p in FILES}
    assert {"messages", "media", "state"} <= {n.removesuffix(".py") for n in names} | {
        p.parent.name for p in FILES
    }


@pytest.mark.parametrize("path", FILES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_io_imports(path: Path) -> None:
    top = {m.split(".")[0] for m in imported_modules(path.read_text(encoding="utf-8"))}
    assert not top & BANNED, f"{path} imports {sorted(top & BANNED)}"
