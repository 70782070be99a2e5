"""P1 / P2 / P7: the broker relay under the office profile, against a bare forwarder.

One server process at a time — the **real broker** (``broker.testing.running_broker``:
TLS, SQLite, session logs fsync'd) or the **baseline**, a bare aiohttp WebSocket
forwarder with the same TLS that pairs a sender and a receiver and forwards binary
frames both ways — and load from separate worker processes (``multiprocessing``):
scripted agents and viewers (aiohttp client).  Every session sends SPEC §4.1 frames
of the office profile (``--frame-bytes`` ≈ 2,250 B at ``--rate`` 10/s ≈ 180 kbit/s);
an agent sends only while it has fewer than ``MAX_INFLIGHT_UPDATES`` unacknowledged
updates (SPEC §6), viewers ack every update they receive.  The ciphertext of each
fake frame starts with the sender's ``time.monotonic_ns()`` (a system-wide clock, so
comparable across processes): the viewer's receive time minus it is the latency
through the relay, loopback and both client stacks included.

Broker sessions are made through the public REST API (``POST /agent/requests``, staff
``POST /sessions/{id}/join``); the scripted agent answers ``consent.request`` with
``consent.grant``.

Measured: delivered frames/s, latency p50/p95/p99, server CPU (``/proc/PID/stat``)
per session and per frame, server RSS (``VmRSS``) before and with N sessions, and in
``stalled`` mode RSS over time while every session also has a viewer that never reads.

Usage: ``python -m bench.relay [--sessions N] [--duration S] [--workers W]``
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import multiprocessing as mp
import os
import ssl
import statistics
import struct
import tempfile
import time
from collections.abc import Callable
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import aiohttp
from aiohttp import web

from bench.common import (
    RESULTS,
    env_float,
    env_int,
    percentile,
    print_table,
    start_profiler,
    top_frames,
    write_result,
)

SUBPROTOCOL = "clearpane.v1"
FRAME_BYTES = 2250  # 180 kbit/s at 10 updates/s
RATE = 10.0
MAX_INFLIGHT = 2  # protocol.limits.MAX_INFLIGHT_UPDATES
#: Flood runs send at most this many updates per session and second: the broker closes
#: a viewer that sends more than broker.ws.VIEWER_BINARY_RATE (250) acks + inputs per
#: second with 4429 rate_limited, so a flood has to be spread over enough sessions.
FLOOD_MAX_RATE = 200.0
P1_TARGET_SESSIONS = 2000
P1_TARGET_P99_MS = 25.0
P1_TARGET_FWD_RATIO = 2.5  # DESIGN §9: sessions per core ≥ 2.5× the forwarder's, same run
P2_TARGET_RATIO = 0.4  # DESIGN §9: broker CPU per delivered frame ÷ the forwarder's ≤ 0.4
DELIVERED_MIN = 0.99
"""Below this share of scheduled frames delivered, a run's capacity figure is refused."""
GENERATOR_SATURATED = 0.8
"""A load process above this many cores (of its one core) makes the run's figures void."""
P7_TARGET_KB = 256.0
HEADER = struct.Struct(">BBIQQ")  # kind, flags, epoch, seq, then the send time (ciphertext)
ACK = struct.Struct(">BQ")


# --------------------------------------------------------------------------- servers


def _proc_stat(pid: int) -> tuple[float, int]:
    """(CPU seconds user+system, RSS in KB) of ``pid``."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    cpu = (int(fields[11]) + int(fields[12])) / ticks
    rss = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss = int(line.split()[1])
    return cpu, rss


def _cpu_of(pids: list[int]) -> float:
    """CPU seconds of all of ``pids`` together."""
    return sum(_proc_stat(p)[0] for p in pids)


def _void_reason(delivered: float, gen_cores: list[float]) -> str:
    """Why a row's capacity figures must not be reported ('' when they may be)."""
    reasons = []
    if delivered < DELIVERED_MIN:
        reasons.append(
            f"only {100 * delivered:.1f} % of frames delivered (< {100 * DELIVERED_MIN:g} %)"
        )
    hot = [g for g in gen_cores if g > GENERATOR_SATURATED]
    if hot:
        reasons.append(f"load generator saturated ({max(hot):.2f} cores > {GENERATOR_SATURATED})")
    return "; ".join(reasons)


def capacity(rows: dict[str, dict[str, Any]], base: str, cand: str) -> dict[str, Any]:
    """P1/P2 of ``cand`` against ``base`` (two rows of one side-by-side run), or the
    reason they are refused: a figure is printed only when both rows delivered
    ≥ DELIVERED_MIN of their frames from unsaturated generators."""
    b, c = rows[base], rows[cand]
    void = "; ".join(f"{r['mode']}: {r['void']}" for r in (b, c) if r["void"])
    if not b["server_cores"] or not c["server_cores"] or not b["cpu_us_per_frame"]:
        return {"refused": "no CPU measured"}
    if void:
        # CPU per delivered frame stays worth seeing (with the shares), never as capacity.
        return {"refused": void,
                "indicative_cpu_per_frame_ratio": round(c["cpu_us_per_frame"] / b["cpu_us_per_frame"], 3),
                "delivered_shares": [b["delivered_share"], c["delivered_share"]]}  # fmt: skip
    per_core_b = b["sessions"] / b["server_cores"]
    per_core_c = c["sessions"] / c["server_cores"]
    return {
        "sessions_per_core": round(per_core_c), "base_sessions_per_core": round(per_core_b),
        "p1_ratio": round(per_core_c / per_core_b, 3),
        "p2_ratio": round(c["cpu_us_per_frame"] / b["cpu_us_per_frame"], 3),
        "delivered_share": min(b["delivered_share"], c["delivered_share"]),
    }  # fmt: skip


def _self_signed(folder: Path) -> tuple[Path, Path]:
    """A P-256 certificate for 127.0.0.1 (the forwarder's TLS, like the broker's)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "bench-forwarder")])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    certfile, keyfile = folder / "fwd.pem", folder / "fwd.key"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return certfile, keyfile


def _tune(variant: str, default: str = "asyncio") -> Callable[[Any], None]:
    """Apply a server variant (``+uvloop``, ``+sslbuf``) in the server process; return
    the runner to use instead of ``asyncio.run``."""
    if "+sslbuf" in variant:
        from asyncio import sslproto

        # asyncio allocates (and zero-fills) a 256 KiB read buffer per TLS connection;
        # one TLS record is at most 16 KiB + overhead.
        sslproto.SSLProtocol.max_size = 32 * 1024
    from broker.loop import run

    kind = "uvloop" if "+uvloop" in variant else "asyncio" if "+asyncio" in variant else default
    return lambda main: run(main, kind)  # the loop the broker's own CLI uses


def forwarder_main(conn: Connection, certfile: str | None, keyfile: str | None,
                   variant: str = "") -> None:  # fmt: skip
    """The baseline: pairs ``/fwd/send/{pair}`` with ``/fwd/recv/{pair}`` and forwards
    binary frames both ways, awaiting each send (no queue, no parsing)."""

    async def run() -> None:
        slots: dict[str, dict[str, web.WebSocketResponse]] = {}

        async def handler(request: web.Request) -> web.WebSocketResponse:
            role, pair = request.match_info["role"], request.match_info["pair"]
            ws = web.WebSocketResponse(protocols=(SUBPROTOCOL,), compress=False,
                                       max_msg_size=8 << 20)  # fmt: skip
            await ws.prepare(request)
            slot = slots.setdefault(pair, {})
            slot[role] = ws
            other = "recv" if role == "send" else "send"
            async for msg in ws:
                if msg.type is aiohttp.WSMsgType.BINARY:
                    peer = slot.get(other)
                    if peer is not None and not peer.closed:
                        try:
                            await peer.send_bytes(msg.data)
                        except ConnectionError:  # the peer went away (end of a run)
                            break
            slot.pop(role, None)
            return ws

        app = web.Application()
        app.router.add_get("/fwd/{role}/{pair}", handler)
        runner = web.AppRunner(app, handle_signals=False, access_log=None)
        await runner.setup()
        ctx = None
        if certfile and keyfile:
            ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            ctx.load_cert_chain(certfile, keyfile)
        site = web.TCPSite(runner, "127.0.0.1", 0, ssl_context=ctx)
        await site.start()
        port = int(runner.addresses[0][1])
        scheme = "wss" if ctx else "ws"
        conn.send({"url": f"{scheme}://127.0.0.1:{port}", "cafile": certfile, "pid": os.getpid()})
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        await runner.cleanup()

    _tune(variant)(run())


def picows_forwarder_main(conn: Connection, certfile: str, keyfile: str, variant: str = "") -> None:
    """The baseline's twin on picows (a Cython WebSocket library): the same pairing and
    forwarding, the same TLS, the subprotocol answered — to see what a faster
    WebSocket implementation would buy the relay's data plane (issue 16)."""

    async def run() -> None:
        import picows

        slots: dict[str, dict[str, Any]] = {}

        class Fwd(picows.WSListener):  # type: ignore[misc]
            def __init__(self, role: str, pair: str) -> None:
                self.role, self.pair = role, pair
                self.other = "recv" if role == "send" else "send"

            def on_ws_connected(self, transport: Any) -> None:
                slots.setdefault(self.pair, {})[self.role] = transport

            def on_ws_frame(self, transport: Any, frame: Any) -> None:
                if frame.msg_type == picows.WSMsgType.BINARY:
                    peer = slots.get(self.pair, {}).get(self.other)
                    if peer is not None:
                        peer.send(picows.WSMsgType.BINARY, frame.get_payload_as_bytes())
                elif frame.msg_type == picows.WSMsgType.CLOSE:
                    transport.send_close(frame.get_close_code())
                    transport.disconnect()

            def on_ws_disconnected(self, transport: Any) -> None:
                slots.get(self.pair, {}).pop(self.role, None)

        def factory(request: Any) -> Any:
            _, _, role, pair = request.path.decode().split("/", 3)
            response = picows.WSUpgradeResponse.create_101_response(
                extra_headers={"Sec-WebSocket-Protocol": SUBPROTOCOL})  # fmt: skip
            return picows.WSUpgradeResponseWithListener(response, Fwd(role, pair))

        ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        ctx.load_cert_chain(certfile, keyfile)
        server = await picows.ws_create_server(factory, "127.0.0.1", 0, ssl=ctx,
                                               max_frame_size=8 << 20)  # fmt: skip
        port = server.sockets[0].getsockname()[1]
        conn.send({"url": f"wss://127.0.0.1:{port}", "cafile": certfile, "pid": os.getpid()})
        await asyncio.get_running_loop().run_in_executor(None, conn.recv)
        server.close()

    _tune(variant)(run())


def broker_main(conn: Connection, data_dir: str, variant: str = "", src: str | None = None) -> None:
    """The real broker (``broker.testing.running_broker``) until told to stop; from the
    source tree ``src`` when given (imports of ``broker``/``protocol`` resolve there)."""
    if src:
        import sys

        sys.path.insert(0, src)

    settings: dict[str, Any] = {
        "agent_requests_per_minute": 1_000_000,
        "ws_preauth_per_address": 100_000,  # every simulated peer comes from 127.0.0.1
        "viewer_token_ttl_s": 3600,
        "agent_token_ttl_s": 3600,
        "log_level": "WARNING",
    }

    async def run() -> None:
        from broker.testing import running_broker

        async with running_broker(Path(data_dir), **settings) as b:
            if "+gcfreeze" in variant:  # a lever under test (issue 16): no GC of startup objects
                import gc

                gc.collect()
                gc.freeze()
            conn.send({
                "url": b.ws_url, "base_url": b.base_url, "cafile": str(b.ca_cert_path),
                "admin": [b.admin_username, b.admin_password], "pid": os.getpid(),
            })  # fmt: skip
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    async def run_offloaded() -> None:
        # deploy/tls-offload: HAProxy terminates TLS, the broker speaks plain HTTP on
        # loopback; HAProxy's CPU counts as the broker's (data_path_pids).
        from broker.testing_haproxy import running_behind_haproxy

        async with running_behind_haproxy(Path(data_dir), **settings) as off:
            b = off.broker
            conn.send({
                "url": b.ws_url, "base_url": b.base_url, "cafile": str(b.ca_cert_path),
                "admin": [b.admin_username, b.admin_password], "pid": os.getpid(),
                "data_path_pids": [off.haproxy_pid],
            })  # fmt: skip
            await asyncio.get_running_loop().run_in_executor(None, conn.recv)

    # The broker's own default loop (``broker.loop``: uvloop when installed), as
    # ``clearpane broker`` runs; the forwarder baseline stays on asyncio's.
    _tune(variant, "auto")(run_offloaded() if "+haproxy" in variant else run())


# --------------------------------------------------------------------------- sessions


async def make_broker_sessions(info: dict[str, Any], n: int, stalled: bool) -> list[dict[str, Any]]:
    """Create ``n`` sessions through the REST API: a request (agent token) and a join
    (viewer token) by an engineer; with ``stalled`` also a supervisor's observer join."""
    ctx = ssl.create_default_context(cafile=info["cafile"])
    base = info["base_url"] + "/api/v1"
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(ssl=ctx, limit=8)) as http:

        async def call(method: str, path: str, token: str | None, body: Any) -> Any:
            headers = {"Authorization": f"Bearer {token}"} if token else {}
            async with http.request(method, base + path, json=body, headers=headers) as r:
                data = await r.json()
                if r.status >= 300:
                    raise RuntimeError(f"{method} {path}: {r.status} {data}")
                return data

        async def own_password(token: str, pw: str) -> str:
            # A one-time password (the first admin's, one an admin set) opens nothing
            # but its replacement (403 password_change_required): replace it.
            if not (await call("GET", "/me", token, None))["must_change_password"]:
                return token
            body = {"current_password": pw, "new_password": pw + "-own"}
            new_token: str = (await call("POST", "/auth/password", token, body))["token"]
            return new_token

        admin = (await call("POST", "/auth/login", None,
                            {"username": info["admin"][0], "password": info["admin"][1]}))["token"]  # fmt: skip
        replaced = await own_password(admin, info["admin"][1])
        if replaced != admin:  # later logins (p56's engineer) use the new one
            info["admin"] = [info["admin"][0], info["admin"][1] + "-own"]
        admin = replaced
        users = {}
        for role in ("engineer", "supervisor"):
            pw = "bench-password-" + os.urandom(6).hex()
            uname = f"bench-{role}-{os.urandom(3).hex()}"
            await call("POST", "/users", admin,
                       {"username": uname, "name": f"Bench {role}", "role": role, "password": pw})  # fmt: skip
            token = (await call("POST", "/auth/login", None,
                                {"username": uname, "password": pw}))["token"]  # fmt: skip
            users[role] = await own_password(token, pw)

        async def one(i: int) -> dict[str, Any]:
            req = await call("POST", "/agent/requests", None,
                             {"description": f"bench session {i}", "client_name": f"client {i}"})  # fmt: skip
            sid = req["session_id"]
            viewers = [
                (await call("POST", f"/sessions/{sid}/join", users["engineer"], {}))["ws_token"]
            ]
            if stalled:
                viewers.append((await call("POST", f"/sessions/{sid}/join", users["supervisor"],
                                           {"as": "observer"}))["ws_token"])  # fmt: skip
            return {"sid": sid, "agent": req["token"], "viewers": viewers,
                    "engineer": users["engineer"]}  # fmt: skip

        out = []
        for start in range(0, n, 16):
            out += await asyncio.gather(*(one(i) for i in range(start, min(n, start + 16))))
        return out


# --------------------------------------------------------------------------- load


class Stats:
    """One worker's counters."""

    def __init__(self) -> None:
        self.latencies: list[float] = []
        self.lags: list[float] = []
        self.sent = 0
        self.received = 0
        self.skipped = 0
        self.errors: list[str] = []
        self.measuring = False


async def _agent(
    http: aiohttp.ClientSession, spec: dict[str, Any], sess: dict[str, Any], stats: Stats,
    ready: asyncio.Event, go: asyncio.Event, stop: asyncio.Event, idx: int,
) -> None:  # fmt: skip
    """A scripted agent: hello, grant every consent, then frames at ``rate``."""
    from protocol.messages import (
        ConsentGrant,
        ConsentRequest,
        Hello,
        parse_control,
        serialize_control,
    )

    broker = spec["mode"] == "broker"
    base = sess.get("agent_url", spec["url"])  # P9 pins agents to one cluster node
    url = base + ("/ws/agent" if broker else f"/fwd/send/{sess['sid']}")
    ws = await http.ws_connect(url, protocols=(SUBPROTOCOL,), max_msg_size=8 << 20, heartbeat=None)
    if broker:
        await ws.send_str(serialize_control(Hello(token=sess["agent"], client="bench-agent/1")))
    inflight: set[int] = set()
    acked = 0
    granted = asyncio.Event()
    welcomed = asyncio.Event()
    want = len(sess["viewers"]) if broker else 0
    grants = 0
    if not broker:
        granted.set()
        welcomed.set()

    async def reader() -> None:
        nonlocal acked, grants
        async for msg in ws:
            if msg.type is aiohttp.WSMsgType.TEXT:
                head = msg.data[:40]
                if '"welcome"' in head:
                    welcomed.set()
                if '"consent.request"' not in head:
                    if '"error"' in head:
                        stats.errors.append(f"agent: {msg.data[:200]}")
                    continue
                m = parse_control(msg.data)
                if isinstance(m, ConsentRequest):
                    await ws.send_str(serialize_control(ConsentGrant(
                        request_id=m.request_id, viewer_id=m.viewer_id, permissions=m.permissions)))  # fmt: skip
                    grants += 1
                    if grants >= want:
                        granted.set()
            elif msg.type is aiohttp.WSMsgType.BINARY:
                kind, seq = ACK.unpack_from(msg.data)
                if kind == 3 and seq > acked:
                    acked = seq
                    inflight.difference_update([s for s in inflight if s <= seq])

    read_task = asyncio.create_task(reader())
    await asyncio.wait_for(welcomed.wait(), 30)  # the relay knows the agent now
    sess["_granted"] = granted
    ready.set()
    await go.wait()
    filler = os.urandom(spec["frame_bytes"] - HEADER.size)
    interval = 1.0 / spec["rate"]
    loop = asyncio.get_running_loop()
    # Stagger the sessions over one interval so they do not all send at once.
    next_at = loop.time() + (idx % 97) / 97 * interval
    seq = 0
    flood = spec.get("flood", False)
    while not stop.is_set() and not ws.closed:
        if flood:
            if len(inflight) >= MAX_INFLIGHT:
                await asyncio.sleep(0.001)
                continue
            # Stay under the broker's per-viewer limit on acks (it closes faster viewers).
            wait = next_at - loop.time()
            if wait > 0:
                await asyncio.sleep(wait)
            next_at = max(next_at, loop.time() - 1 / FLOOD_MAX_RATE) + 1 / FLOOD_MAX_RATE
        else:
            delay = next_at - loop.time()
            if delay > 0:
                await asyncio.sleep(delay)
            if stats.measuring:  # how late the generator's own loop sends (its lag)
                stats.lags.append((loop.time() - next_at) * 1000)
            next_at += interval
            if len(inflight) >= MAX_INFLIGHT:
                stats.skipped += stats.measuring
                continue
        seq += 1
        inflight.add(seq)
        try:
            await ws.send_bytes(HEADER.pack(1, 0, 1, seq, time.monotonic_ns()) + filler)
        except (ConnectionError, RuntimeError):
            break
        stats.sent += stats.measuring
    read_task.cancel()
    with contextlib.suppress(asyncio.CancelledError, Exception):
        await read_task
    await ws.close()


async def _viewer(
    http: aiohttp.ClientSession, spec: dict[str, Any], sess: dict[str, Any], token: str,
    stats: Stats, ready: asyncio.Event, stop: asyncio.Event, stalled: bool,
) -> None:  # fmt: skip
    """A scripted viewer: hello, then ack every update and record its latency.
    A ``stalled`` viewer says hello and never reads again."""
    from protocol.messages import Hello, serialize_control

    broker = spec["mode"] == "broker"
    base = sess.get("viewer_url", spec["url"])  # P9 pins viewers to one cluster node
    url = base + ("/ws/viewer" if broker else f"/fwd/recv/{sess['sid']}")
    origin = spec.get("base_url", "")
    ws = await http.ws_connect(url, protocols=(SUBPROTOCOL,), max_msg_size=8 << 20,
                               heartbeat=None, origin=origin or None)  # fmt: skip
    if broker:
        await ws.send_str(serialize_control(Hello(token=token, client="bench-viewer/1")))
    ready.set()
    if stalled:
        await stop.wait()
        await ws.close()
        return
    lat = stats.latencies
    while not stop.is_set():
        try:
            msg = await ws.receive(timeout=0.5)
        except TimeoutError:
            continue
        if msg.type is aiohttp.WSMsgType.BINARY:
            data = msg.data
            if data[0] == 1:
                now = time.monotonic_ns()
                _, _, _, seq, sent_ns = HEADER.unpack_from(data)
                try:
                    await ws.send_bytes(ACK.pack(3, seq))
                except (ConnectionError, RuntimeError, aiohttp.ClientError):
                    break
                if stats.measuring:
                    stats.received += 1
                    lat.append((now - sent_ns) / 1e6)
        elif msg.type is aiohttp.WSMsgType.TEXT:
            if '"error"' in msg.data[:40]:
                stats.errors.append(f"viewer: {msg.data[:200]}")
        elif msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED,
                          aiohttp.WSMsgType.CLOSING, aiohttp.WSMsgType.ERROR):  # fmt: skip
            if not stop.is_set():  # a close at the end of the run is not an error
                stats.errors.append(f"viewer closed: {ws.close_code}")
            break
    await ws.close()


async def _rejoin(
    http: aiohttp.ClientSession, spec: dict[str, Any], sess: dict[str, Any]
) -> tuple[list[str], str]:
    """A fresh join (P9, a cluster): its viewer token and the ``ws_url`` it names (the
    node holding the session), as the web viewer uses them."""
    url = f"{spec['base_url']}/api/v1/sessions/{sess['sid']}/join"
    headers = {"Authorization": f"Bearer {sess['engineer']}"}
    async with http.post(url, json={}, headers=headers) as r:
        join = await r.json()
        if r.status >= 300:
            raise RuntimeError(f"join: {r.status} {join}")
    return [join["ws_token"]], join["ws_url"].removesuffix("/ws/viewer")


async def _worker(spec: dict[str, Any], ctl: Connection) -> dict[str, Any]:
    stats = Stats()
    ctx = ssl.create_default_context(cafile=spec["cafile"]) if spec["cafile"] else False
    connector = aiohttp.TCPConnector(ssl=ctx, limit=0)
    go, stop = asyncio.Event(), asyncio.Event()
    tasks: list[asyncio.Task[None]] = []
    async with aiohttp.ClientSession(connector=connector) as http:
        for i, sess in enumerate(spec["sessions"]):
            ready = asyncio.Event()
            tasks.append(asyncio.create_task(_agent(http, spec, sess, stats, ready, go, stop, i)))
            await ready.wait()
            if sess.get("rejoin"):  # P9: join once the agent is in, go where the join says
                sess["viewers"], sess["viewer_url"] = await _rejoin(http, spec, sess)
            granted_wait = []
            for j, token in enumerate(sess["viewers"]):
                vready = asyncio.Event()
                stalled = spec.get("stalled", False) and j > 0
                tasks.append(asyncio.create_task(
                    _viewer(http, spec, sess, token, stats, vready, stop, stalled)))  # fmt: skip
                await vready.wait()
            granted_wait.append(sess["_granted"].wait())
            await asyncio.wait_for(asyncio.gather(*granted_wait), 30)
        loop = asyncio.get_running_loop()
        ctl.send("ready")
        await loop.run_in_executor(None, ctl.recv)  # "go"
        go.set()
        await loop.run_in_executor(None, ctl.recv)  # "measure"
        stats.measuring = True
        cpu0, wall0 = time.process_time(), time.monotonic()
        await loop.run_in_executor(None, ctl.recv)  # "stop"
        stats.measuring = False
        # The generator's own CPU over the measured window: a generator near a full
        # core (GENERATOR_SATURATED) delays sends and reads, so the figure is void.
        gen_cores = (time.process_time() - cpu0) / max(1e-9, time.monotonic() - wall0)
        stop.set()
        await asyncio.wait(tasks, timeout=5)
    failed = [t for t in tasks if t.done() and not t.cancelled() and t.exception() is not None]
    errs = stats.errors + [repr(t.exception()) for t in failed]
    return {"latencies": stats.latencies, "sent": stats.sent, "received": stats.received,
            "skipped": stats.skipped, "errors": errs[:20], "n_errors": len(errs),
            "gen_cores": round(gen_cores, 3),
            "gen_lag_p99_ms": round(percentile(stats.lags, 0.99), 1) if stats.lags else 0.0}  # fmt: skip


def worker_main(spec: dict[str, Any], ctl: Connection) -> None:
    """A load process: runs its share of the sessions, reports through ``ctl``."""
    try:
        result = asyncio.run(_worker(spec, ctl))
    except Exception as exc:  # reported to the parent, which fails the figure
        import traceback

        result = {"fatal": "".join(traceback.format_exception(exc))[-1500:]}
    ctl.send(result)


# --------------------------------------------------------------------------- a run


def run_load(
    mode: str, sessions: int, duration: float, workers: int, **kwargs: Any
) -> dict[str, Any]:
    """One server alone (see :func:`run_together`)."""
    return run_together([mode], sessions, duration, workers, **kwargs)[0]


def _base(mode: str) -> str:
    """``broker+uvloop@before`` → ``broker``."""
    return mode.partition("@")[0].partition("+")[0]


def _start_server(
    ctx: Any, mode: str, folder: str, sources: dict[str, str]
) -> tuple[Any, Connection]:
    parent, child = ctx.Pipe()
    name, _, label = mode.partition("@")
    base, _, rest = name.partition("+")
    variant = "+" + rest if rest else ""
    if base == "broker":
        src = sources[label] if label else None
        server = ctx.Process(target=broker_main, args=(child, folder, variant, src), daemon=True)
    elif base == "forwarder":
        certfile, keyfile = _self_signed(Path(folder))
        server = ctx.Process(target=forwarder_main,
                             args=(child, str(certfile), str(keyfile), variant), daemon=True)  # fmt: skip
    elif base == "forwarder-picows":
        certfile, keyfile = _self_signed(Path(folder))
        server = ctx.Process(target=picows_forwarder_main,
                             args=(child, str(certfile), str(keyfile), variant), daemon=True)  # fmt: skip
    else:  # "forwarder-plain": no TLS, to show what TLS costs
        server = ctx.Process(target=forwarder_main, args=(child, None, None, variant), daemon=True)
    server.start()
    return server, parent


def run_together(
    modes: list[str], sessions: int, duration: float, workers: int, *, warmup: float = 3.0,
    stalled: bool = False, flood: bool = False, frame_bytes: int = FRAME_BYTES,
    rate: float = RATE, profile_dir: Path | None = None, sources: dict[str, str] | None = None,
) -> list[dict[str, Any]]:  # fmt: skip
    """Start one server per mode (``broker[+variant]``, ``forwarder``, ``forwarder-plain``)
    side by side, drive ``sessions`` on each from ``workers`` processes per server for
    ``warmup`` + ``duration`` s, all at the same time, and measure each server.

    Side by side, the baseline and the broker share the machine's load at every moment
    (other processes on a shared machine move latency and even CPU per frame a lot).
    ``broker@label`` runs the broker from the source tree ``sources[label]`` (another
    checkout: a lever's before and after in the same run)."""
    ctx = mp.get_context("spawn")
    tmps = [tempfile.TemporaryDirectory(prefix="clearpane-bench-") for _ in modes]
    servers = [
        _start_server(ctx, m, t.name, sources or {}) for m, t in zip(modes, tmps, strict=True)
    ]
    procs: list[Any] = []
    profs: list[Any] = []
    try:
        infos = []
        for (server, parent), mode in zip(servers, modes, strict=True):
            deadline = time.monotonic() + 90
            while not parent.poll(0.2):
                if not server.is_alive() or time.monotonic() > deadline:
                    raise RuntimeError(f"{mode} did not start")
            infos.append(parent.recv())
        time.sleep(0.5)
        pids = [i["pid"] for i in infos]
        # Every process on the data path (the server, a TLS-terminating proxy in front
        # of it) counts for CPU; the load generators never do.
        path_pids = [[i["pid"], *i.get("data_path_pids", [])] for i in infos]
        rss_idle = [_proc_stat(p)[1] for p in pids]
        sess_lists = []
        for mode, info in zip(modes, infos, strict=True):
            if _base(mode) == "broker":
                sess_lists.append(asyncio.run(make_broker_sessions(info, sessions, stalled)))
            else:
                sess_lists.append([{"sid": f"p{i}", "agent": "", "viewers": [""]}
                                   for i in range(sessions)])  # fmt: skip
        rss_after_rest = [_proc_stat(p)[1] for p in pids]
        pipes: list[list[Connection]] = []
        for mode, info, sess in zip(modes, infos, sess_lists, strict=True):
            spec_base = {"mode": _base(mode), "url": info["url"],
                         "cafile": info["cafile"], "base_url": info.get("base_url", ""),
                         "frame_bytes": frame_bytes, "rate": rate, "stalled": stalled,
                         "flood": flood}  # fmt: skip
            mine = []
            for w in range(workers):
                a, b = ctx.Pipe()
                p = ctx.Process(target=worker_main,
                                args=({**spec_base, "sessions": sess[w::workers]}, b), daemon=True)  # fmt: skip
                p.start()
                procs.append(p)
                mine.append(a)
            pipes.append(mine)
        all_pipes = [a for mine in pipes for a in mine]
        for a in all_pipes:
            if not a.poll(240):
                raise RuntimeError("workers did not connect in time")
            msg = a.recv()
            if msg != "ready":
                raise RuntimeError(f"worker failed: {msg}")
        for a in all_pipes:
            a.send("go")
        time.sleep(warmup)
        start = [_proc_stat(p) for p in pids]
        start_cpu = [_cpu_of(pp) for pp in path_pids]
        t0 = time.monotonic()
        for a in all_pipes:
            a.send("measure")
        if profile_dir is not None:
            for mode, pid in zip(modes, pids, strict=True):
                dest = profile_dir / f"profile_{mode.replace('+', '_')}.txt"
                profs.append((mode, dest, start_profiler(pid, duration, dest)))
        straces: list[tuple[str, Path, Any]] = []
        if os.environ.get("BENCH_STRACE"):  # system calls per frame, by kind (strace -c)
            import subprocess

            for mode, pid in zip(modes, pids, strict=True):
                dest = RESULTS / f"strace_{mode.replace('+', '_').replace('@', '_')}.txt"
                RESULTS.mkdir(parents=True, exist_ok=True)
                straces.append((mode, dest, subprocess.Popen(
                    ["strace", "-c", "-f", "-o", str(dest), "-p", str(pid)],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)))  # fmt: skip
        series: list[list[tuple[float, int]]] = [[] for _ in modes]
        while time.monotonic() - t0 < duration:
            time.sleep(min(1.0, max(0.0, duration - (time.monotonic() - t0))))
            for i, pid in enumerate(pids):
                series[i].append((round(time.monotonic() - t0, 1), _proc_stat(pid)[1]))
        end = [_proc_stat(p) for p in pids]
        end_cpu = [_cpu_of(pp) for pp in path_pids]
        t1 = time.monotonic()
        for _, _, prof in profs:
            if prof is not None:
                prof.wait(timeout=30)
        for _, _, tracer in straces:
            tracer.send_signal(2)  # SIGINT: strace detaches and writes its summary
            tracer.wait(timeout=30)
        for a in all_pipes:
            a.send("stop")
        results: list[list[dict[str, Any]]] = []
        for mine in pipes:
            got = []
            for a in mine:
                if not a.poll(30):
                    raise RuntimeError("a worker did not report")
                got.append(a.recv())
            results.append(got)
        fatal = [r["fatal"] for got in results for r in got if "fatal" in r]
        if fatal:
            raise RuntimeError(f"worker failed: {fatal[0]}")
    finally:
        for p in procs:
            p.join(timeout=5)
            if p.is_alive():
                p.kill()
        recorded = []
        for (server, parent), tmp in zip(servers, tmps, strict=True):
            with contextlib.suppress(Exception):
                parent.send("stop")
            server.join(timeout=15)
            if server.is_alive():
                server.kill()
            recorded.append(sum(f.stat().st_size for f in Path(tmp.name).rglob("recording.cprec")))
            tmp.cleanup()
    secs = t1 - t0
    rows = []
    for i, mode in enumerate(modes):
        res = results[i]
        lat = [x for r in res for x in r["latencies"]]
        received = sum(r["received"] for r in res)
        cpu = end_cpu[i] - start_cpu[i]
        scheduled = sum(r["sent"] + r["skipped"] for r in res)
        delivered = received / scheduled if scheduled else 0.0
        gen = [r.get("gen_cores", 0.0) for r in res]
        void = _void_reason(delivered, gen)
        row = {
            "mode": mode, "sessions": sessions, "duration_s": round(secs, 1),
            "frames_per_s": round(received / secs, 1),
            "delivered_share": round(delivered, 4),
            "gen_cores_max": round(max(gen, default=0.0), 3), "gen_cores": gen,
            # The generators' send lateness: high when the machine (not the generator's
            # own CPU) starves them; then latency and delivery say little about the server.
            "gen_lag_p99_ms": max((r.get("gen_lag_p99_ms", 0.0) for r in res), default=0.0),
            "void": void, "data_path_processes": len(path_pids[i]),
            "offered_per_s": round(sum(r["sent"] for r in res) / secs, 1),
            "skipped_no_credit": sum(r["skipped"] for r in res),
            "p50_ms": round(percentile(lat, 0.5), 2), "p95_ms": round(percentile(lat, 0.95), 2),
            "p99_ms": round(percentile(lat, 0.99), 2), "max_ms": round(max(lat, default=0), 2),
            "server_cores": round(cpu / secs, 3),
            "cpu_us_per_frame": round(cpu / max(1, received) * 1e6, 1),
            "rss_idle_kb": rss_idle[i], "rss_after_rest_kb": rss_after_rest[i],
            "rss_start_kb": start[i][1], "rss_end_kb": end[i][1], "rss_series": series[i],
            "kb_per_session": round((end[i][1] - rss_after_rest[i]) / max(1, sessions), 1),
            "recorded_bytes": recorded[i],
            "errors": sum(r["n_errors"] for r in res),
            "error_samples": [e for r in res for e in r["errors"]][:5],
        }  # fmt: skip
        prof_file = next((d for m, d, _ in profs if m == mode), None)
        if prof_file is not None:
            row["profile_top"] = top_frames(prof_file, 25)
        rows.append(row)
    return rows


def _print_capacity(one: dict[str, Any]) -> None:
    for key in ("broker", "before", *(k for k in one if "+" in k and "_cpu_" not in k)):
        c = one.get(key)
        if c is None:
            continue
        if "refused" in c:
            print(f"  {key}: capacity REFUSED — {c['refused']}"
                  + (f" (indicative CPU/frame ÷ forwarder {c['indicative_cpu_per_frame_ratio']}, "
                     f"delivered {c['delivered_shares']})" if "delivered_shares" in c else ""))  # fmt: skip
        else:
            print(f"  {key}: {c['sessions_per_core']} sessions/core vs forwarder "
                  f"{c['base_sessions_per_core']} (×{c['p1_ratio']}); P2 {c['p2_ratio']}; "
                  f"delivered {100 * c['delivered_share']:.2f} %")  # fmt: skip
    for key in (k for k in one if k.endswith("_cpu_per_frame_vs_broker")):
        print(
            f"  {key.removesuffix('_cpu_per_frame_vs_broker')}: CPU per frame ÷ the broker's = {one[key]}"
        )
    if one.get("lever_cpu_per_frame_ratio") is not None:
        print(f"  lever: CPU per frame after ÷ before = {one['lever_cpu_per_frame_ratio']} "
              f"(delivered before/after {one['lever_delivered_shares']})"
              + (f" VOID: {one['lever_void']}" if one["lever_void"] else ""))  # fmt: skip


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """P1/P2 (office profile, broker vs forwarder) and P7 (memory, stalled viewer)."""
    ap = argparse.ArgumentParser(description="P1/P2/P7 relay capacity, efficiency, memory")
    ap.add_argument("--sessions", type=int, default=env_int("BENCH_SESSIONS", 200))
    ap.add_argument("--duration", type=float, default=env_float("BENCH_RELAY_DURATION", 20.0))
    ap.add_argument("--workers", type=int, default=env_int("BENCH_WORKERS", 2))
    ap.add_argument("--latency-sessions", type=int,
                    default=env_int("BENCH_LATENCY_SESSIONS", 50))  # fmt: skip
    ap.add_argument("--flood-sessions", type=int, default=env_int("BENCH_FLOOD_SESSIONS", 20))
    ap.add_argument("--stalled-sessions", type=int, default=env_int("BENCH_STALLED_SESSIONS", 50))
    ap.add_argument("--stalled-duration", type=float,
                    default=env_float("BENCH_STALLED_DURATION", 30.0))  # fmt: skip
    ap.add_argument("--repeat", type=int, default=env_int("BENCH_RELAY_REPEAT", 1),
                    help="office runs (each side by side); capacity is the median of valid ones")  # fmt: skip
    ap.add_argument("--before", default=os.environ.get("BENCH_RELAY_BEFORE") or None,
                    help="a source tree to run as broker@before beside the broker (a lever's before)")  # fmt: skip
    ap.add_argument("--also", action="append", default=[],
                    help="more servers side by side in the office runs, e.g. broker+haproxy")  # fmt: skip
    ap.add_argument("--out", default=None, help="results file name (bench/results/<out>.json)")
    ap.add_argument("--no-tls-pair", dest="tls_pair", action="store_false",
                    help="skip the forwarder-plain / broker+sslbuf pair (P7's TLS-buffer figures)")  # fmt: skip
    ap.add_argument("--only", choices=["office", "flood", "stalled", "uvloop"], action="append")
    ap.add_argument("--profile", action="store_true", default=bool(os.environ.get("BENCH_PROFILE")),
                    help="sample the server with py-spy during the office runs")  # fmt: skip
    args = ap.parse_args(argv)
    only = set(args.only or ["office", "flood", "stalled"])
    out: dict[str, Any] = {"command": "python -m bench.relay " + " ".join(argv or []),
                           "frame_bytes": FRAME_BYTES, "rate": RATE}  # fmt: skip
    cols = ["mode", "sessions", "frames_per_s", "delivered_share", "skipped_no_credit", "p50_ms",
            "p95_ms", "p99_ms", "server_cores", "cpu_us_per_frame", "gen_cores_max", "gen_lag_p99_ms",
            "kb_per_session", "errors", "void"]  # fmt: skip
    if "office" in only:
        # Side by side, so that baseline and broker see the same machine load at every
        # moment; repeated, because one run on a shared machine says little.
        prof_dir = RESULTS if args.profile else None
        per = max(1, args.workers // 2)
        sources = {"before": args.before} if args.before else {}
        modes = ["forwarder", "broker", *(["broker@before"] if args.before else []), *args.also]
        reps: list[dict[str, Any]] = []
        rows: list[dict[str, Any]] = []
        for rep in range(args.repeat):
            load0 = os.getloadavg()[0]
            got = run_together(modes, args.sessions, args.duration, per,
                               profile_dir=prof_dir, sources=sources)  # fmt: skip
            by = {r["mode"]: r for r in got}
            one: dict[str, Any] = {"rep": rep, "loadavg_1m": round(load0, 2),
                                   "broker": capacity(by, "forwarder", "broker")}  # fmt: skip
            if args.before:
                one["before"] = capacity(by, "forwarder", "broker@before")
                aft, bef = by["broker"], by["broker@before"]
                # A CPU-per-frame ratio, not a capacity: printed with both delivered shares.
                one["lever_cpu_per_frame_ratio"] = (
                    round(aft["cpu_us_per_frame"] / bef["cpu_us_per_frame"], 3)
                    if bef["cpu_us_per_frame"] else None)  # fmt: skip
                one["lever_delivered_shares"] = [bef["delivered_share"], aft["delivered_share"]]
                one["lever_void"] = "; ".join(f"{r['mode']}: {r['void']}" for r in (bef, aft)
                                              if "generator" in r["void"])  # fmt: skip
            for extra in args.also:  # each extra server against the forwarder and the broker
                one[extra] = capacity(by, "forwarder", extra)
                if by["broker"]["cpu_us_per_frame"]:
                    one[f"{extra}_cpu_per_frame_vs_broker"] = round(
                        by[extra]["cpu_us_per_frame"] / by["broker"]["cpu_us_per_frame"], 3)  # fmt: skip
            reps.append(one)
            rows += [{**r, "rep": rep} for r in got]
            print_table(f"P1/P2 office profile ({FRAME_BYTES} B x {RATE:g}/s per session), rep {rep}, "
                        f"load average {load0:.1f}, servers side by side", got, cols)  # fmt: skip
            _print_capacity(one)
        if args.tls_pair:
            rows += run_together(["forwarder-plain", "broker+sslbuf"], args.sessions,
                                 min(args.duration, 10.0), per, profile_dir=prof_dir)  # fmt: skip
            print_table("TLS cost and smaller TLS buffers, side by side", rows[-2:], cols)
        # Latency at a load the load generators can carry on this machine.
        light = run_together(["forwarder", "broker"], args.latency_sessions,
                             min(args.duration, 15.0), per)  # fmt: skip
        print_table(f"P1 latency at {args.latency_sessions} sessions per server, side by side",
                    light, cols)  # fmt: skip
        out["office_light"] = light
        lf, lb = light
        out["p1_latency_sessions"] = args.latency_sessions
        out["p1_light_p50_ms"], out["p1_light_p99_ms"] = lb["p50_ms"], lb["p99_ms"]
        out["p1_light_fwd_p50_ms"], out["p1_light_fwd_p99_ms"] = lf["p50_ms"], lf["p99_ms"]
        out["p1_light_delivered_share"] = min(lf["delivered_share"], lb["delivered_share"])
        out["p1_light_void"] = "; ".join(r["void"] for r in light if r["void"])
        out["office"] = rows
        out["office_reps"] = reps
        ok = [r["broker"] for r in reps if "refused" not in r["broker"]]
        # Capacity only from runs that delivered everything from unsaturated generators.
        out["p1_valid_reps"] = len(ok)
        out["p1_refused"] = [r["broker"]["refused"] for r in reps if "refused" in r["broker"]]
        if ok:
            out["p1_sessions_per_core_extrapolated"] = round(
                statistics.median(o["sessions_per_core"] for o in ok)
            )
            out["p1_fwd_sessions_per_core_extrapolated"] = round(
                statistics.median(o["base_sessions_per_core"] for o in ok)
            )
            out["p1_ratio_median"] = round(statistics.median(o["p1_ratio"] for o in ok), 3)
            out["p2_ratio_median"] = round(statistics.median(o["p2_ratio"] for o in ok), 3)
            out["p2_cpu_per_frame_ratio"] = [o["p2_ratio"] for o in ok]
        else:
            out["p1_sessions_per_core_extrapolated"] = None
            out["p1_fwd_sessions_per_core_extrapolated"] = None
            out["p1_ratio_median"] = out["p2_ratio_median"] = None
        out["p1_added_p50_ms"] = round(lb["p50_ms"] - lf["p50_ms"], 2)
        out["p1_added_p99_ms"] = round(lb["p99_ms"] - lf["p99_ms"], 2)
        first = {r["mode"]: r for r in rows if r.get("rep", 0) == 0}
        out["p7_kb_per_session"] = first["broker"]["kb_per_session"]
        if args.tls_pair:
            out["p7_kb_per_session_sslbuf"] = rows[-1]["kb_per_session"]
        print(f"\nP1 sessions/core: {out['p1_sessions_per_core_extrapolated'] or 'REFUSED'} "
              f"(forwarder {out['p1_fwd_sessions_per_core_extrapolated'] or '-'}; ratio "
              f"{out['p1_ratio_median'] or '-'}, target ≥ {P1_TARGET_FWD_RATIO}); P2 "
              f"{out['p2_ratio_median'] or '-'} (target ≤ {P2_TARGET_RATIO}); "
              f"{len(ok)}/{len(reps)} runs valid")  # fmt: skip
    if "flood" in only:
        rows = run_together(["forwarder", "broker"], args.flood_sessions,
                            min(args.duration, 10.0), max(1, args.workers // 2), flood=True)  # fmt: skip
        print_table(f"P2 flood: {args.flood_sessions} sessions, ack-paced, as fast as credit allows",
                    rows, cols)  # fmt: skip
        out["flood"] = rows
        flood_void = "; ".join(r["void"] for r in rows if "generator" in r["void"])
        out["p2_flood_void"] = flood_void  # a flood is credit-paced: only saturation voids it
        out["p2_flood_throughput_ratio"] = (
            round(rows[1]["frames_per_s"] / rows[0]["frames_per_s"], 3)
            if rows[0]["frames_per_s"] and not flood_void else None)  # fmt: skip
    if "uvloop" in only:
        # The landed broker on asyncio's loop and on uvloop, side by side, same load.
        rows = run_together(["broker+asyncio", "broker+uvloop"], args.sessions,
                            args.duration, max(1, args.workers // 2))  # fmt: skip
        print_table("uvloop vs asyncio: the broker, office profile, side by side", rows, cols)
        out["uvloop"] = rows
        base, uv = rows
        out["uvloop_cpu_per_frame_ratio"] = (
            round(uv["cpu_us_per_frame"] / base["cpu_us_per_frame"], 3) if base["cpu_us_per_frame"] else None)  # fmt: skip
    if "stalled" in only:
        row = run_load("broker", args.stalled_sessions, args.stalled_duration, args.workers,
                       stalled=True)  # fmt: skip
        series = row["rss_series"]
        half = series[len(series) // 2 :]
        slope = ((half[-1][1] - half[0][1]) / (half[-1][0] - half[0][0])
                 if len(half) > 1 and half[-1][0] > half[0][0] else 0.0)  # fmt: skip
        row["rss_slope_kb_per_s_second_half"] = round(slope, 1)
        print_table(f"P7 stalled viewers: {args.stalled_sessions} sessions, each with one viewer "
                    "that never reads", [row], [*cols, "rss_start_kb", "rss_end_kb"])  # fmt: skip
        print("RSS over time (s, KB):", " ".join(f"{t:g}:{r}" for t, r in series))
        out["stalled"] = row
    # A profiled run (py-spy slows the server a little) keeps its own results file.
    name = args.out or ("P1_P2_P7_profiled" if args.profile else "P1_P2_P7")
    dest = write_result("uvloop" if only == {"uvloop"} else name, out)
    print(f"wrote {dest}")
    return out


if __name__ == "__main__":
    main()
