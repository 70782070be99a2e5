"""The README's first command, ``make run``, in miniature.

tests/broker/test_cli.py already starts ``clearpane broker`` twice (first start prints
the admin password, a restart does not); this test goes through the Makefile's ``run``
target itself, the way the README tells a customer to start: the broker comes up on
https, the printed address answers ``/api/v1/health`` to a client that trusts only
``DATA/ca/root.pem``, the one-time password logs in, Ctrl+C stops it, and a second
``make run`` prints no new password. The venv install step is marked as done (``make
-o``): it is what ``make venv`` already did, and it must not touch the shared venv here.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import signal
import ssl
import subprocess
import urllib.request
from collections.abc import Iterator
from pathlib import Path

from tests.e2e.fullstack import ROOT, OutputLog


def _stamp() -> str:
    # The Makefile's STAMP: .venv/.installed-<first 12 hex of sha1(pyproject.toml)>.
    digest = hashlib.sha1((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:12]
    return f".venv/.installed-{digest}"


@contextlib.contextmanager
def make_run(data: Path) -> Iterator[tuple[subprocess.Popen[str], OutputLog]]:
    """``make run DATA=…`` in its own process group (make and the broker it starts);
    the group is interrupted like Ctrl+C in the terminal at the end."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARPANE_")}
    env.update(CLEARPANE_HOST="127.0.0.1", CLEARPANE_PORT="0", PYTHONUNBUFFERED="1")
    env.pop("MAKEFLAGS", None)
    proc = subprocess.Popen(
        ["make", "--no-print-directory", "-o", _stamp(), "run", f"DATA={data}"],
        cwd=ROOT,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    try:
        yield proc, OutputLog(proc.stdout, "make run")
    finally:
        if proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGINT)
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=5)


def _get(url: str, ctx: ssl.SSLContext, body: dict[str, str] | None = None) -> dict[str, object]:
    data = json.dumps(body).encode() if body is not None else None
    request = urllib.request.Request(url, data=data, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(request, context=ctx, timeout=5) as response:
        result = json.load(response)
        assert isinstance(result, dict)
        return result


def test_make_run_first_start_then_restart(tmp_path: Path) -> None:
    data = tmp_path / "data"
    with make_run(data) as (proc, out):
        url = out.wait_for(r"Clearpane broker listening on (https://\S+)", 30).group(1)
        assert re.fullmatch(r"https://127\.0\.0\.1:\d+", url), url
        out.wait_for(rf"Enrollment file for agents: {re.escape(str(data))}/enrollment\.json$", 5)
        text = out.text
        assert ".venv/bin/clearpane broker --data-dir" in text  # the recipe ran, not pip
        password = re.search(r"^\s*password: (\S+)$", text, re.M)
        assert password and "shown only once" in text

        ctx = ssl.create_default_context(cafile=str(data / "ca" / "root.pem"))
        assert _get(url + "/api/v1/health", ctx)["status"] == "ok"
        login = _get(
            url + "/api/v1/auth/login", ctx, {"username": "admin", "password": password.group(1)}
        )
        assert isinstance(login.get("token"), str)
        enrollment = json.loads((data / "enrollment.json").read_text())
        assert enrollment["broker_url"] == url
        assert enrollment["ca_pem"].strip() == (data / "ca" / "root.pem").read_text().strip()

        os.killpg(proc.pid, signal.SIGINT)  # Ctrl+C in the terminal
        proc.wait(timeout=10)
        out.wait_for(r"Shutting down", 1)

    with make_run(data) as (proc, out):
        url2 = out.wait_for(r"Clearpane broker listening on (https://\S+)", 30).group(1)
        assert "password" not in out.text
        assert _get(url2 + "/api/v1/health", ctx)["status"] == "ok"  # same CA as before
