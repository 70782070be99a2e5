"""Every module of broker/ imports whatever was imported before it: no module works only
because another one happened to be imported first (a cycle through a package's
``__init__`` did exactly that: ``broker.sla`` before ``broker.app`` failed).

Each module group (a top-level package or module of broker/) is imported first in a
clean process, its modules in three orders: alphabetical, reverse, and leaf first
(submodules before the packages that hold them). The processes are forked from one
helper subprocess that has loaded the third-party libraries only — never one of our
modules — so each starts clean of our code as a fresh interpreter would, without loading
aiohttp, SQLAlchemy and the rest again for each of the sixty-odd runs. tests/test_layers.py checks the same statically (cycles, package
``__init__`` files included).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OURS = ("broker", "protocol", "certs", "audit")

# Runs in the helper subprocess: argv[1] is the JSON list of (label, [modules]).
_HELPER = r"""
import importlib, json, os, sys, traceback

runs = json.loads(sys.argv[1])
ours = tuple(json.loads(sys.argv[2]))
every = sorted({m for _, mods in runs for m in mods})

# 1. Learn which third-party modules broker/ needs, in a child that imports it all.
r, w = os.pipe()
pid = os.fork()
if pid == 0:
    os.close(r)
    for m in every:
        try:
            importlib.import_module(m)
        except BaseException:
            pass  # reported by the runs below
    names = [n for n in list(sys.modules) if n.split(".")[0] not in ours]
    os.write(w, json.dumps(names).encode())
    os._exit(0)
os.close(w)
with os.fdopen(r, "rb") as pipe:
    third_party = json.loads(pipe.read() or b"[]")
os.waitpid(pid, 0)
for name in third_party:
    try:
        importlib.import_module(name)
    except BaseException:
        pass
assert not [n for n in sys.modules if n.split(".")[0] in ours], "helper imported our code"

# 2. One clean child per run: import its modules in its order, report the first failure.
failures = []
for label, mods in runs:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        os.close(r)
        for m in mods:
            try:
                importlib.import_module(m)
            except BaseException:
                os.write(w, f"{label}: import {m}\n{traceback.format_exc()}".encode())
                os._exit(1)
        os._exit(0)
    os.close(w)
    with os.fdopen(r, "rb") as pipe:
        report = pipe.read().decode()
    _, status = os.waitpid(pid, 0)
    if status:
        failures.append(report or f"{label}: exit status {status}")
print(json.dumps({"runs": len(runs), "failures": failures}))
"""


def modules() -> list[str]:
    """Every importable module of broker/ (migrations are Alembic scripts, not modules)."""
    found = []
    for path in sorted((ROOT / "broker").rglob("*.py")):
        parts = list(path.relative_to(ROOT).with_suffix("").parts)
        if "migrations" in parts:
            continue
        if parts[-1] == "__init__":
            parts.pop()
        found.append(".".join(parts))
    return found


def runs() -> list[tuple[str, list[str]]]:
    """(label, modules in order) for every group and order (one order for a lone module)."""
    groups: dict[str, list[str]] = {}
    for m in modules():
        top = m.split(".")[1] if "." in m else m
        groups.setdefault(top, []).append(m)
    out: list[tuple[str, list[str]]] = []
    for top, mods in sorted(groups.items()):
        alphabetical = sorted(mods)
        orders = {
            "alphabetical": alphabetical,
            "reverse": alphabetical[::-1],
            "leaf first": sorted(mods, key=lambda m: (-m.count("."), m)),
        }
        if len(mods) == 1:
            orders = {"alone": mods}
        out.extend((f"broker.{top} ({name})", order) for name, order in orders.items())
    return out


def test_every_module_group_imports_first_in_a_clean_process_in_three_orders() -> None:
    planned = runs()
    assert len(planned) > 40  # the groups were found
    done = subprocess.run(
        [sys.executable, "-c", _HELPER, json.dumps(planned), json.dumps(OURS)],
        cwd=ROOT,
        env={"PYTHONPATH": str(ROOT), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["runs"] == len(planned)
    assert not result["failures"], "\n\n".join(result["failures"])


def test_a_module_that_needs_another_imported_first_is_reported(tmp_path: Path) -> None:
    """The check itself can fail: two modules in a cycle through a package ``__init__``,
    imported from the submodule first, are reported with the module that broke."""
    pkg = tmp_path / "cyc"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "sub" / "__init__.py").write_text("from cyc.sub.wiring import ROUTES\n")
    (pkg / "sub" / "wiring.py").write_text("from cyc.emitter import emit\nROUTES = [emit]\n")
    (pkg / "sub" / "events.py").write_text("def event():\n    return 1\n")
    (pkg / "emitter.py").write_text("from cyc.sub.events import event\nemit = event\n")
    planned = [("cyc (leaf first)", ["cyc.emitter"]), ("cyc.sub (alone)", ["cyc.sub"])]
    done = subprocess.run(
        [sys.executable, "-c", _HELPER, json.dumps(planned), json.dumps(["cyc"])],
        cwd=tmp_path,
        env={"PYTHONPATH": str(tmp_path), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-4000:]
    failures = json.loads(done.stdout.strip().splitlines()[-1])["failures"]
    assert len(failures) == 1
    assert failures[0].startswith("cyc (leaf first): import cyc.emitter")
    assert "circular import" in failures[0]
