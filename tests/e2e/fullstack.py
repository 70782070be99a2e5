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
import signal
import subprocess
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CLEARPANE = ROOT / ".venv" / "bin" / "clearpane"


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEARPANE_")}
    env["PYTHONUNBUFFERED"] = "1"
    env.update(extra)
    return env


class OutputLog:
    """Drains a process's text stream in a thread (a full pipe would block the
    process) and lets the test wait for a line."""

    def __init__(self, stream: object, name: str) -> None:
        self.name = name
        self.lines: list[str] = []
        self._cond = threading.Condition()
        self._closed = False
        self._thread = threading.Thread(target=self._drain, args=(stream,), daemon=True)
        self._thread.start()

    def _drain(self, stream: object) -> None:
        for line in stream:  # type: ignore[attr-defined]
            with self._cond:
                self.lines.append(line.rstrip("\n"))
                self._cond.notify_all()
        with self._cond:
            self._closed = True
            self._cond.notify_all()

    @property
    def text(self) -> str:
        """Everything read so far."""
        with self._cond:
            return "\n".join(self.lines)

    def wait_for(self, pattern: str, timeout: float, start: int = 0) -> re.Match[str]:
        """The first match of ``pattern`` in a line at index ``start`` or later."""
        regex = re.compile(pattern)
        deadline = time.monotonic() + timeout
        index = start
        with self._cond:
            while True:
                while index < len(self.lines):
                    found = regex.search(self.lines[index])
                    if found:
                        return found
                    index += 1
                left = deadline - time.monotonic()
                if left <= 0 or self._closed:
                    raise AssertionError(
                        f"{self.name}: no line matching {pattern!r} "
                        f"({'stream closed' if self._closed else f'{timeout} s'}); output:\n"
                        + "\n".join(self.lines[-40:])
                    )
                self._cond.wait(min(left, 0.2))


def stop_process(
    proc: subprocess.Popen[str], sig: int = signal.SIGTERM, timeout: float = 10
) -> int:
    """End a process we started (by its id): ``sig``, then SIGKILL after ``timeout``."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=5)
    return proc.returncode


def clearpane(*args: str, timeout: float = 30, stdin: str | None = None) -> str:
    """Run ``clearpane ARGS`` to completion; return its standard output (raise on failure)."""
    done = subprocess.run(
        [str(CLEARPANE), *args],
        cwd=ROOT,
        env=_env(),
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


@dataclass
class BrokerProcess:
    """A running ``clearpane broker``."""

    proc: subprocess.Popen[str]
    output: OutputLog
    data_dir: Path
    url: str
    enrollment_path: Path
    admin_username: str | None
    admin_password: str | None

    @property
    def root_ca(self) -> Path:
        """The organisation root the broker made on first start."""
        return self.data_dir / "ca" / "root.pem"


@contextlib.contextmanager
def broker_process(data_dir: Path, timeout: float = 30) -> Iterator[BrokerProcess]:
    """``clearpane broker --data-dir DATA --host 127.0.0.1 --port 0``, up and serving."""
    proc = subprocess.Popen(
        [
            str(CLEARPANE),
            "broker",
            "--data-dir",
            str(data_dir),
            "--host",
            "127.0.0.1",
            "--port",
            "0",
            "--ip",
            "127.0.0.1",
            "--hostname",
            "localhost",
        ],
        cwd=ROOT,
        env=_env(),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        out = OutputLog(proc.stdout, "broker")
        url = out.wait_for(r"Clearpane broker listening on (https://\S+)", timeout).group(1)
        enrollment = out.wait_for(r"Enrollment file for agents: (\S+)", timeout).group(1)
        user = re.search(r"^\s*username: (\S+)$", out.text, re.M)
        password = re.search(r"^\s*password: (\S+)$", out.text, re.M)
        yield BrokerProcess(
            proc,
            out,
            data_dir,
            url,
            Path(enrollment),
            user.group(1) if user else None,
            password.group(1) if password else None,
        )
    finally:
        stop_process(proc)


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
            time.sleep(0.05)
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
    env = _env(**({"DISPLAY": display} if display else {}))
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
