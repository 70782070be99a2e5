"""The import graph of our packages: no cycles between modules, and the layers of
DESIGN §3.

Ground floor: ``protocol`` and ``certs`` (standard library and ``cryptography`` only).
``audit`` builds on ``protocol``; ``broker`` and ``agent`` build on all three; nothing
imports ``broker`` or ``agent`` except ``cli``; ``integrations`` (help-desk connectors)
imports none of our packages (they speak the public HTTP API); ``certs`` and ``audit`` do not import each
other. Every import counts, also one inside a function or under ``TYPE_CHECKING``: a
cycle hidden in a function is still a cycle in the design.
Importing ``pkg.sub.mod`` also counts as importing ``pkg`` and ``pkg.sub``: their
``__init__`` files run first, and a cycle through one fails at start-up like any other
(tests/test_import_order.py imports each group first, for real).

The check reads the source with :mod:`ast` (nothing is imported), so it also runs
where optional dependencies (Qt, aiortc) are missing, and names each violation.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable, Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("protocol", "certs", "audit", "broker", "agent", "cli", "integrations")

# Which of our packages each package may import (DESIGN §3).
ALLOWED: dict[str, frozenset[str]] = {
    "protocol": frozenset(),
    "certs": frozenset(),
    "audit": frozenset({"protocol"}),
    "broker": frozenset({"protocol", "certs", "audit"}),
    "agent": frozenset({"protocol", "certs", "audit"}),
    "cli": frozenset({"protocol", "certs", "audit", "broker", "agent"}),
    # Help-desk connectors (issue 18) talk to Clearpane over its public HTTP API only.
    "integrations": frozenset(),
}

# The ground floor uses the standard library and these third-party packages only.
GROUND_THIRD_PARTY = frozenset({"cryptography"})
GROUND = ("protocol", "certs")


def _modules() -> dict[str, Path]:
    """Dotted module name -> file, for every module of our packages."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _owner(name: str) -> str | None:
    """The longest of our modules that ``name`` names or lies inside, if any."""
    while name:
        if name in MODULES:
            return name
        name = name.rpartition(".")[0]
    return None


def _imported_names(module: str, path: Path) -> Iterator[tuple[str, int]]:
    """Every dotted name ``module`` imports (absolute), with its line number."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield alias.name, node.lineno
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - (node.level - 1)]
                prefix = ".".join([*base, node.module] if node.module else base)
            else:
                prefix = node.module or ""
            for alias in node.names:
                # ``from pkg import mod`` imports the submodule ``pkg.mod`` if there is one.
                sub = f"{prefix}.{alias.name}"
                yield (sub if sub in MODULES else prefix), node.lineno


def _with_packages(target: str) -> Iterator[str]:
    """``target`` and every package above it: importing ``a.b.c`` first runs
    ``a/__init__.py`` and ``a/b/__init__.py``, so those are imported too (a cycle through
    a package's ``__init__`` is as real as one through a module)."""
    name = target
    while name:
        if name in MODULES:
            yield name
        name = name.rpartition(".")[0]


def edges_of(module: str, names: Iterable[tuple[str, int]]) -> dict[str, int]:
    """{imported module of ours: first line} for the dotted ``names`` ``module`` imports."""
    edges: dict[str, int] = {}
    for name, line in names:
        owner = _owner(name)
        for target in _with_packages(owner) if owner else ():
            # A package's __init__ importing its own submodules, and a submodule importing
            # its parent package, is how packages work, not a design cycle.
            if target == module or module.startswith(target + "."):
                continue
            edges.setdefault(target, line)
    return edges


def _graph() -> dict[str, dict[str, int]]:
    """module -> {imported module of ours: first line}."""
    return {
        module: edges_of(module, _imported_names(module, path)) for module, path in MODULES.items()
    }


def find_cycles(graph: dict[str, dict[str, int]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    on_stack: set[str] = set()
    stack: list[str] = []
    cycles: list[list[str]] = []
    counter = 0
    for start in graph:
        if start in index:
            continue
        work: list[tuple[str, Iterator[str]]] = [(start, iter(graph[start]))]
        index[start] = low[start] = counter
        counter += 1
        stack.append(start)
        on_stack.add(start)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = counter
                    counter += 1
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(graph.get(child, {}))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                parent = work[-1][0]
                low[parent] = min(low[parent], low[node])
            if low[node] == index[node]:
                component: list[str] = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    cycles.append(sorted(component))
    return cycles


def layer_violations(graph: dict[str, dict[str, int]]) -> list[str]:
    """``file:line: a imports b`` for every import across a forbidden layer boundary."""
    problems: list[str] = []
    for module, edges in sorted(graph.items()):
        top = module.split(".")[0]
        for target, line in sorted(edges.items()):
            other = target.split(".")[0]
            if other != top and other not in ALLOWED[top]:
                where = MODULES[module].relative_to(ROOT)
                problems.append(f"{where}:{line}: {module} imports {target} ({top} → {other})")
    return problems


def _third_party(module: str, path: Path) -> Iterator[tuple[str, int]]:
    import sys

    for name, line in _imported_names(module, path):
        first = name.split(".")[0]
        if first and first not in PACKAGES and first not in sys.stdlib_module_names:
            yield first, line


GRAPH = _graph()


def test_no_import_cycles() -> None:
    cycles = find_cycles(GRAPH)
    described = [
        " → ".join(f"{m} (line {GRAPH[m][n]})" for m, n in zip(c, [*c[1:], c[0]], strict=True))
        if all(n in GRAPH[m] for m, n in zip(c, [*c[1:], c[0]], strict=True))
        else ", ".join(c)
        for c in cycles
    ]
    assert not cycles, "import cycles:\n" + "\n".join(described)


def test_layers_of_design_section_3() -> None:
    problems = layer_violations(GRAPH)
    assert not problems, "layer violations (DESIGN §3):\n" + "\n".join(problems)


@pytest.mark.parametrize("package", GROUND)
def test_ground_floor_uses_stdlib_and_cryptography_only(package: str) -> None:
    extra = [
        f"{MODULES[m].relative_to(ROOT)}:{line}: {name}"
        for m in MODULES
        if m.split(".")[0] == package
        for name, line in _third_party(m, MODULES[m])
        if name not in GROUND_THIRD_PARTY
    ]
    assert not extra, f"{package} imports outside stdlib + cryptography:\n" + "\n".join(extra)


def private_imports() -> list[str]:
    """``from m import _name`` across modules: a private helper another module needs is
    part of an interface and gets a public name. Allowed: a package-private module
    (``pkg/_common.py``) used inside its own package, and gettext's ``_``."""
    found: list[str] = []
    for module, path in MODULES.items():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if not isinstance(node, ast.ImportFrom) or node.level or not node.module:
                continue
            source = node.module
            package_private = source.rpartition(".")[2].startswith("_") and module.startswith(
                source.rpartition(".")[0] + "."
            )
            for alias in node.names:
                name = alias.name
                private = name.startswith("_") and not name.startswith("__") and name != "_"
                if private and not package_private and _owner(source) is not None:
                    where = path.relative_to(ROOT)
                    found.append(f"{where}:{node.lineno}: {name} from {source}")
    return found


def test_no_private_helpers_imported_across_modules() -> None:
    found = private_imports()
    assert not found, "private names imported across modules:\n" + "\n".join(found)


def test_the_checker_finds_a_cycle_and_a_violation() -> None:
    """The check itself can fail: a made-up graph with both faults is reported."""
    MODULES.setdefault("certs.fake", ROOT / "certs" / "fake.py")
    try:
        graph = {
            "certs.fake": {"audit.chain": 3},
            "audit.chain": {"certs.fake": 7},
        }
        assert find_cycles(graph) == [["audit.chain", "certs.fake"]]
        found = layer_violations(graph)
        assert any("certs.fake imports audit.chain" in p for p in found)
        assert any("audit.chain imports certs.fake" in p for p in found)
    finally:
        del MODULES["certs.fake"]


def test_no_test_module_imports_another() -> None:
    """Shared test code lives in a folder's conftest.py, a ``testing.py`` or
    tests/helpers.py; a test module (``test_*.py``) is never a library for another."""
    found: list[str] = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module:
                last = node.module.rpartition(".")[2]
                if node.module.startswith("tests.") and last.startswith("test_"):
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno}: {node.module}")
    assert not found, "imports from test modules:\n" + "\n".join(found)


#: DESIGN/STYLE: small modules with one job, none over ~500 lines in broker/ and agent/.
MAX_MODULE_LINES = 500
SIZED = ("broker", "agent")


def oversized_modules(limit: int = MAX_MODULE_LINES) -> list[str]:
    """``file: N lines`` for every module of broker/ and agent/ longer than ``limit``."""
    found: list[str] = []
    for module, path in sorted(MODULES.items()):
        if module.split(".")[0] in SIZED:
            count = len(path.read_text(encoding="utf-8").splitlines())
            if count > limit:
                found.append(f"{path.relative_to(ROOT)}: {count} lines")
    return found


def test_no_module_in_broker_or_agent_over_500_lines() -> None:
    found = oversized_modules()
    assert not found, (
        f"modules over {MAX_MODULE_LINES} lines (split by concern into a subpackage):\n"
        + "\n".join(found)
    )


def test_the_size_check_can_fail() -> None:
    """With a tiny limit the check names real modules (it reads the files it should)."""
    found = oversized_modules(limit=50)
    assert any(f.startswith("broker/") for f in found)
    assert any(f.startswith("agent/") for f in found)


def test_deferred_imports_and_package_inits_are_edges(tmp_path: Path) -> None:
    """An import inside a function is an edge like any other, and importing
    ``pkg.sub.mod`` is an edge to ``pkg.sub`` (its ``__init__`` runs first) — the cycle
    broker.sla → broker.webhooks (whose ``__init__`` wired the API routes) → broker.api
    → broker.sla hid behind both."""
    source = tmp_path / "notify.py"
    source.write_text("def announce():\n    from broker.webhooks.capture import emit\n")
    names = list(_imported_names("broker.sla.notify", source))
    assert names == [("broker.webhooks.capture", 2)]
    edges = edges_of("broker.sla.notify", names)
    assert edges == {"broker.webhooks.capture": 2, "broker.webhooks": 2}
    # inside its own package, a module's imports do not point at its own parents
    assert edges_of("broker.webhooks.setup", names) == {"broker.webhooks.capture": 2}
