"""The product as separate processes, the way a customer runs it.

:func:`broker_process` starts ``clearpane broker`` (the console script in the venv) and
reads the first admin's password and the address from its standard output;
:func:`add_user` runs ``clearpane users add``; :func:`agent_process` starts
``clearpane agent --headless`` with a pseudo-terminal on its standard input, so the
test types commands (``say …``, ``kill``) exactly as a client at a terminal would.
:func:`listening_sockets` reads ``/proc`` to list the sockets a process listens on (G1).

Every process is started by id and ended by id in a ``finally`` block; every wait has a
deadline. ``tools/screenshot_readme.py`` uses the same helpers.
"""

from __future__ import annotations

import contextlib
import os
import re
import subprocess
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from tests import helpers
from tests.helpers import BrokerProcess, OutputLog, clean_env, stop_process

ROOT = Path(__file__).resolve().parents[2]
CLEARPANE = ROOT / ".venv" / "bin" / "clearpane"


@contextlib.contextmanager
def broker_process(data_dir: Path, timeout: float = 30) -> Iterator[BrokerProcess]:
    """``clearpane broker`` (the installed console script), up and serving."""
    with helpers.broker_process(data_dir, timeout, command=[str(CLEARPANE)]) as bp:
        yield bp


def clearpane(*args: str, timeout: float = 30, stdin: str | None = None) -> str:
    """Run ``clearpane ARGS`` to completion; return its standard output (raise on failure)."""
    done = subprocess.run(
        [str(CLEARPANE), *args],
        cwd=ROOT,
        env=clean_env(),
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if done.returncode != 0:
        raise AssertionError(
            f"clearpane {' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
        )
    return done.stdout


def add_user(data_dir: Path, username: str, role: str, name: str) -> str:
    """``clearpane users add``; returns the generated password it prints once."""
    # --data-dir belongs to `users`, before the action (`users add … --data-dir` is refused).
    out = clearpane(
        "users", "--data-dir", str(data_dir), "add", username, "--role", role, "--name", name
    )
    found = re.search(r"^password: (\S+)$", out, re.M)
    assert found, out
    return found.group(1)


@dataclass
class AgentProcess:
    """A running ``clearpane agent --headless`` with a terminal on its stdin."""

    proc: subprocess.Popen[str]
    output: OutputLog
    errors: OutputLog
    log_dir: Path
    _tty: int = field(repr=False)

    @property
    def pid(self) -> int:
        """The agent's process id."""
        return self.proc.pid

    def type_line(self, text: str) -> None:
        """Type one line on the agent's terminal, as the client would."""
        os.write(self._tty, text.encode() + b"\n")

    def press_ctrl_c(self) -> None:
        """Ctrl+C on the agent's terminal: the line discipline sends SIGINT to the
        terminal's foreground process group, the agent."""
        os.write(self._tty, b"\x03")

    def session_id(self, timeout: float = 15) -> str:
        """The session id (the folder of the client's log copy)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            folders = [p for p in self.log_dir.glob("*") if p.is_dir()]
            if folders:
                return folders[0].name
            if self.proc.poll() is not None:
                break
            time.sleep(0.05)  # sleep-ok: polls for the folder and for the process exiting
        raise AssertionError(f"the agent made no session:\n{self.output.text}\n{self.errors.text}")


@contextlib.contextmanager
def agent_process(
    enrollment: Path,
    log_dir: Path,
    *,
    describe: str,
    source: str = "screen",
    display: str | None = None,
    name: str = "Bob Client",
    consent: Sequence[str] = ("view",),
    extra: Sequence[str] = (),
) -> Iterator[AgentProcess]:
    """``clearpane agent --enrollment E --headless --auto-consent-for-tests …`` in a
    session of its own whose controlling terminal is a pseudo-terminal (``setsid -c``
    execs in place: the process id is the agent's)."""
    master, slave = os.openpty()
    env = clean_env(**({"DISPLAY": display} if display else {}))
    if not display:
        env.pop("DISPLAY", None)
    cmd = [
        "setsid",
        "--ctty",
        str(CLEARPANE),
        "agent",
        "--enrollment",
        str(enrollment),
        "--headless",
        "--auto-consent-for-tests",
        ",".join(consent),
        "--describe",
        describe,
        "--name",
        name,
        "--source",
        source,
        "--log-dir",
        str(log_dir),
        *extra,
    ]
    try:
        proc = subprocess.Popen(
            cmd,
            cwd=ROOT,
            env=env,
            stdin=slave,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        os.close(slave)
    try:
        agent = AgentProcess(
            proc,
            OutputLog(proc.stdout, "agent"),
            OutputLog(proc.stderr, "agent stderr"),
            log_dir,
            master,
        )
        yield agent
    finally:
        # SIGTERM is the agent's kill switch too: nothing is left streaming.
        stop_process(proc)
        os.close(master)


# --- G1: which sockets does a process listen on? ------------------------------------


def _socket_inodes(pid: int) -> set[str]:
    inodes = set()
    fd_dir = Path(f"/proc/{pid}/fd")
    for fd in fd_dir.iterdir():
        with contextlib.suppress(OSError):
            target = os.readlink(fd)
            if target.startswith("socket:["):
                inodes.add(target[8:-1])
    return inodes


def _proc_net(pid: int, kind: str) -> list[list[str]]:
    path = Path(f"/proc/{pid}/net/{kind}")
    if not path.exists():
        return []
    return [line.split() for line in path.read_text().splitlines()[1:] if line.strip()]


def _port(address: str) -> int:
    return int(address.rsplit(":", 1)[1], 16)


@dataclass(frozen=True)
class SocketReport:
    """The inet sockets one process holds, from ``/proc``."""

    listening: tuple[str, ...]  # TCP in LISTEN, UDP bound without a peer
    connected_ports: tuple[int, ...]  # remote ports of established TCP connections


def process_sockets(pid: int) -> SocketReport:
    """Parse ``/proc/PID/fd`` and ``/proc/PID/net/{tcp,tcp6,udp,udp6}``."""
    mine = _socket_inodes(pid)
    listening: list[str] = []
    connected: list[int] = []
    for kind in ("tcp", "tcp6", "udp", "udp6"):
        for cols in _proc_net(pid, kind):
            local, remote, state, inode = cols[1], cols[2], cols[3], cols[9]
            if inode not in mine:
                continue
            if kind.startswith("tcp"):
                if state == "0A":  # TCP_LISTEN
                    listening.append(f"{kind} {local}")
                elif state == "01":  # TCP_ESTABLISHED
                    connected.append(_port(remote))
            elif _port(remote) == 0:  # a bound UDP socket without a peer receives from anyone
                listening.append(f"{kind} {local}")
    return SocketReport(tuple(listening), tuple(connected))
