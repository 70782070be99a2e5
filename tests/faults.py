"""Real faults for tests (issue 13): a small tmpfs the test mounts and fills, and a TCP
proxy the test controls (cut, half-open, delay).

``small_tmpfs`` mounts as root (``mount -t tmpfs``) and unmounts in teardown; where
mounting is refused (not root, no CAP_SYS_ADMIN in a container) the test is skipped with
that reason.
"""

from __future__ import annotations

import asyncio
import contextlib
import errno
import fcntl
import os
import shutil
import socket
import struct
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

__all__ = ["ControlledProxy", "DiskFiller", "ProxiedConnection", "small_tmpfs"]


@contextlib.contextmanager
def small_tmpfs(path: Path, size: str = "16m") -> Iterator[Path]:
    """Mount a tmpfs of ``size`` at ``path`` for the duration (skip if refused)."""
    path.mkdir(parents=True, exist_ok=True)
    if shutil.which("mount") is None:
        pytest.skip("no mount command: cannot make a real full filesystem")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size},mode=0700", "tmpfs", str(path)],
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        pytest.skip(
            f"mounting a tmpfs was refused ({done.stderr.strip() or done.returncode}): "
            "a real full filesystem needs root with CAP_SYS_ADMIN; the fault-injecting "
            "unit tests still run"
        )
    try:
        yield path
    finally:
        for _ in range(20):
            if (
                subprocess.run(["umount", str(path)], capture_output=True, check=False).returncode
                == 0
            ):
                break
        else:  # pragma: no cover - something still holds it open: detach it lazily
            subprocess.run(["umount", "-l", str(path)], capture_output=True, check=False)


class DiskFiller:
    """Fill a filesystem to the last byte with one file, and free it again."""

    def __init__(self, directory: Path) -> None:
        self.path = directory / "filler.bin"

    def fill(self) -> int:
        """Write until ENOSPC; return the bytes written."""
        written = 0
        chunk = b"\0" * 65536
        with self.path.open("ab", buffering=0) as fh:
            for size in (65536, 4096, 512, 1):
                block = chunk[:size]
                while True:
                    try:
                        written += fh.write(block) or 0
                    except OSError as exc:
                        if exc.errno != errno.ENOSPC:
                            raise
                        break
        return written

    def free(self) -> None:
        """Remove the filler (space returns at once on tmpfs)."""
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path)

    @property
    def full(self) -> bool:
        """True while the filler exists."""
        return self.path.exists()


class _Side(asyncio.Protocol):
    """One socket of a proxied connection (the agent's side or the broker's)."""

    def __init__(self, conn: ProxiedConnection, name: str) -> None:
        self.conn, self.name = conn, name
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.conn.received(self.name, data)

    def connection_lost(self, exc: Exception | None) -> None:
        self.conn.lost(self.name, exc)


class ProxiedConnection:
    """One agent connection through a :class:`ControlledProxy`."""

    def __init__(self, proxy: ControlledProxy) -> None:
        self.proxy = proxy
        self.agent = _Side(self, "agent")
        self.broker = _Side(self, "broker")
        self.from_agent = 0  # bytes read from the agent's socket
        self.from_broker = 0
        self.reset_by_agent = False
        self.closed = asyncio.Event()
        self._early: list[bytes] = []

    def received(self, side: str, data: bytes) -> None:
        mode = self.proxy.mode
        if side == "agent":
            self.from_agent += len(data)
        else:
            self.from_broker += len(data)
        if mode == "half_open":
            return  # packets "stop": read and dropped, nothing closes
        other = self.broker if side == "agent" else self.agent
        if other.transport is None:
            self._early.append(data)
            return
        delay = self.proxy.delay_s
        if delay > 0:
            asyncio.get_running_loop().call_later(delay, self._write, other, data)
        else:
            self._write(other, data)

    @staticmethod
    def _write(side: _Side, data: bytes) -> None:
        if side.transport is not None and not side.transport.is_closing():
            side.transport.write(data)

    def upstream_ready(self) -> None:
        for data in self._early:
            self._write(self.broker, data)
        self._early.clear()

    def lost(self, side: str, exc: Exception | None) -> None:
        if side == "agent" and isinstance(exc, ConnectionResetError):
            self.reset_by_agent = True
        if self.proxy.mode == "half_open":
            return  # the other side is not told: that is the point
        for s in (self.agent, self.broker):
            if s.transport is not None and not s.transport.is_closing():
                s.transport.close()
        self.closed.set()

    def agent_inq(self) -> int:
        """Bytes the proxy's kernel holds from the agent, not read yet (FIONREAD)."""
        import termios

        assert self.agent.transport is not None
        sock = self.agent.transport.get_extra_info("socket")
        raw = fcntl.ioctl(sock.fileno(), termios.FIONREAD, struct.pack("i", 0))
        return int(struct.unpack("i", raw)[0])

    def cut(self) -> None:
        """Close both sockets (a network failure both ends see)."""
        for s in (self.agent, self.broker):
            if s.transport is not None:
                s.transport.abort()


class ControlledProxy:
    """A TCP proxy between the agent and the broker that the test controls: ``cut()``,
    ``half_open()`` (nothing forwarded, nothing closed), ``delay_s``, and
    ``stop_reading_agent()`` (the agent's send queue fills: a stalled link)."""

    def __init__(self, target_port: int, target_host: str = "127.0.0.1") -> None:
        self.target = (target_host, target_port)
        self.mode = "forward"
        self.delay_s = 0.0
        self.port = 0
        self.connections: list[ProxiedConnection] = []
        self.rcvbuf: int | None = None
        self._server: asyncio.AbstractServer | None = None

    async def __aenter__(self) -> ControlledProxy:
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(self._accept, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        if self.rcvbuf is not None:  # inherited by accepted sockets (window from the SYN)
            self._server.sockets[0].setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self.rcvbuf)
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
        for conn in self.connections:
            conn.cut()

    def _accept(self) -> asyncio.Protocol:
        conn = ProxiedConnection(self)
        self.connections.append(conn)
        asyncio.get_running_loop().create_task(self._connect(conn))
        return _AgentSide(conn, self.rcvbuf)

    async def _connect(self, conn: ProxiedConnection) -> None:
        loop = asyncio.get_running_loop()
        try:
            await loop.create_connection(lambda: conn.broker, *self.target)
        except OSError:
            conn.cut()
            return
        conn.upstream_ready()

    @property
    def last(self) -> ProxiedConnection:
        """The newest connection."""
        return self.connections[-1]

    def half_open(self) -> None:
        """From now on nothing is forwarded either way, and nothing is closed."""
        self.mode = "half_open"

    def forward(self) -> None:
        """Forward again (new data only)."""
        self.mode = "forward"

    def cut(self) -> None:
        """Close every connection."""
        for conn in self.connections:
            conn.cut()

    def stop_reading_agent(self, conn: ProxiedConnection) -> None:
        """Stop reading from the agent (its kernel send queue fills up)."""
        assert conn.agent.transport is not None
        conn.agent.transport.pause_reading()

    def read_agent_again(self, conn: ProxiedConnection) -> None:
        """Read from the agent again."""
        assert conn.agent.transport is not None
        conn.agent.transport.resume_reading()


class _AgentSide(_Side):
    def __init__(self, conn: ProxiedConnection, rcvbuf: int | None) -> None:
        super().__init__(conn, "agent")
        conn.agent = self
        self._rcvbuf = rcvbuf

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        if self._rcvbuf is not None:
            sock = transport.get_extra_info("socket")
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, self._rcvbuf)
        super().connection_made(transport)
