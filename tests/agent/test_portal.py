"""The Wayland portal flow: the pure state machine, and its D-Bus driver against a
fake xdg-desktop-portal on a private dbus-daemon (no compositor here)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator

import pytest

from agent.desktop.portal import (
    REMOTE_DESKTOP,
    SCREENCAST,
    PortalError,
    PortalFlow,
    PortalState,
    PortalStream,
    request_path,
)
from agent.desktop.portal_dbus import PortalClient
from agent.desktop.testing import FakePortal, private_bus

VIEW_CONTROL = frozenset({"view", "control"})


def test_control_uses_a_remote_desktop_session_in_order() -> None:
    flow = PortalFlow(control=True, remote_desktop=True)
    call = flow.start()
    assert (call.interface, call.method) == (REMOTE_DESKTOP, "CreateSession")
    call = flow.on_response(0, {"session_handle": "/s/1"})
    assert call is not None and (call.interface, call.method) == (REMOTE_DESKTOP, "SelectDevices")
    assert call.args[0] == "/s/1" and call.args[1]["types"] == ("u", 3)
    call = flow.on_response(0, {})
    assert call is not None and (call.interface, call.method) == (SCREENCAST, "SelectSources")
    assert call.args[1]["cursor_mode"] == ("u", 2) and call.args[1]["types"] == ("u", 1)
    call = flow.on_response(0, {})
    assert call is not None and (call.interface, call.method) == (REMOTE_DESKTOP, "Start")
    streams = [(41, {"position": (0, 0), "size": (1920, 1080), "source_type": 1}),
               (42, {"position": (1920, 0), "size": (1280, 1024), "source_type": 1})]  # fmt: skip
    assert flow.on_response(0, {"streams": streams, "devices": 3}) is None
    assert flow.state is PortalState.STARTED
    assert flow.streams[1] == PortalStream(42, 1920, 0, 1280, 1024, 1)
    assert flow.permissions(VIEW_CONTROL) == VIEW_CONTROL
    with pytest.raises(PortalError):
        flow.on_response(0, {})
    with pytest.raises(PortalError):
        flow.start()


def test_the_portal_only_narrows() -> None:
    # The user allowed the screen but not the keyboard and pointer.
    flow = PortalFlow(control=True, remote_desktop=True)
    flow.start()
    flow.on_response(0, {"session_handle": "/s/1"})
    flow.on_response(0, {})
    flow.on_response(0, {})
    flow.on_response(0, {"streams": [(1, {"size": (800, 600)})], "devices": 0})
    assert flow.permissions(VIEW_CONTROL) == {"view"}
    assert flow.permissions(frozenset({"view"})) == {"view"}  # never adds control
    # The user cancelled the dialog: nothing of the screen at all.
    cancelled = PortalFlow(control=False, remote_desktop=True)
    cancelled.start()
    assert cancelled.on_response(1, {}) is None
    assert cancelled.state is PortalState.REFUSED
    assert cancelled.permissions(frozenset({"view", "video"})) == {"video"}


def test_wlroots_is_view_only_and_refuses_window_mode() -> None:
    flow = PortalFlow(control=True, remote_desktop=False)
    assert flow.start().interface == SCREENCAST
    flow.on_response(0, {"session_handle": "/s/1"})
    call = flow.on_response(0, {})
    assert call is not None and (call.interface, call.method) == (SCREENCAST, "Start")
    flow.on_response(0, {"streams": [(7, {"size": (1280, 720)})]})
    assert flow.permissions(VIEW_CONTROL) == {"view"}
    with pytest.raises(PortalError, match="single window"):
        PortalFlow(control=False, remote_desktop=False, window=True, window_mode_reliable=False)


def test_a_start_without_streams_or_a_portal_error_fails() -> None:
    for code, results in ((0, {"streams": []}), (2, {})):
        flow = PortalFlow(control=False, remote_desktop=True)
        flow.start()
        flow.on_response(0, {"session_handle": "/s/1"})
        flow.on_response(0, {})
        assert flow.on_response(code, results) is None
        assert flow.state is PortalState.FAILED and flow.permissions(VIEW_CONTROL) == set()
    bad = PortalFlow(control=False, remote_desktop=True)
    bad.start()
    assert bad.on_response(0, {}) is None and bad.state is PortalState.FAILED


def test_request_path_follows_the_portal_rule() -> None:
    assert request_path(":1.42", "clearpane3") == (
        "/org/freedesktop/portal/desktop/request/1_42/clearpane3"
    )


# --- over D-Bus, against the fake portal ------------------------------------------------


@pytest.fixture(scope="module")
def bus() -> Iterator[str]:
    if shutil.which("dbus-daemon") is None:
        pytest.fail("dbus-daemon is not installed: run `make test`, which installs it")
    with private_bus() as address:
        yield address


def test_driver_runs_the_whole_flow_and_gets_the_pipewire_remote(bus: str) -> None:
    fake = FakePortal(bus, streams=((41, (0, 0), (1920, 1080)), (42, (1920, 0), (1280, 1024))))
    client = PortalClient(bus, timeout=5)
    try:
        assert client.has_remote_desktop()
        flow = PortalFlow(control=True, remote_desktop=True)
        fd = client.run(flow)
        assert flow.state is PortalState.STARTED, flow.reason
        assert [(s.node, s.x, s.width) for s in flow.streams] == [(41, 0, 1920), (42, 1920, 1280)]
        assert flow.permissions(VIEW_CONTROL) == VIEW_CONTROL
        assert fake.calls[-5:] == [
            (REMOTE_DESKTOP, "CreateSession"),
            (REMOTE_DESKTOP, "SelectDevices"),
            (SCREENCAST, "SelectSources"),
            (REMOTE_DESKTOP, "Start"),
            (SCREENCAST, "OpenPipeWireRemote"),
        ]
        # The fd really is the one the portal handed over (here: a pipe's read end).
        assert fd is not None
        os.write(fake.pipe[1], b"frame")
        assert os.read(fd, 5) == b"frame"
        os.close(fd)
    finally:
        client.close()
        fake.close()


def test_driver_on_wlroots_and_on_a_refusal(bus: str) -> None:
    fake = FakePortal(bus, remote_desktop=False, answers={"Start": 1})
    client = PortalClient(bus, timeout=5)
    try:
        assert not client.has_remote_desktop()
        flow = PortalFlow(control=True, remote_desktop=client.has_remote_desktop())
        assert client.run(flow) is None
        assert flow.state is PortalState.REFUSED
        assert flow.permissions(VIEW_CONTROL) == set()
        assert (REMOTE_DESKTOP, "CreateSession") not in fake.calls
    finally:
        client.close()
        fake.close()
