"""The input batch plaintext (SPEC §4.2): pointer, button, wheel and key events.

All limits of SPEC §2 are checked on construction, so a payload is always valid.
"""

import struct
from dataclasses import dataclass
from typing import ClassVar, Final, Union

from protocol.limits import MAX_BINARY_MESSAGE, MAX_INPUT_EVENTS, MAX_U32
from protocol.media._common import (
    _BUTTON,
    _EVENT_COUNT,
    _KEY,
    _POINTER,
    _WHEEL,
    Buffer,
    _check_range,
    _invalid,
    _malformed,
    _too_large,
)

__all__ = [
    "BUTTONS",
    "EVENT_LAYOUTS",
    "MODIFIERS_MASK",
    "MODIFIER_ALT",
    "MODIFIER_CTRL",
    "MODIFIER_META",
    "MODIFIER_SHIFT",
    "ButtonDown",
    "ButtonUp",
    "InputBatch",
    "InputEvent",
    "KeyDown",
    "KeyUp",
    "PointerMove",
    "Wheel",
]

BUTTONS: Final = frozenset({1, 2, 3})
MODIFIER_SHIFT: Final = 0x01
MODIFIER_CTRL: Final = 0x02
MODIFIER_ALT: Final = 0x04
MODIFIER_META: Final = 0x08
MODIFIERS_MASK: Final = 0x0F


def _check_xy(x: int, y: int) -> None:
    _check_range("x", x, 0, 0xFFFF)
    _check_range("y", y, 0, 0xFFFF)


@dataclass(frozen=True, slots=True)
class PointerMove:
    """Event type 1."""

    x: int
    y: int
    event_type: ClassVar[int] = 1

    def __post_init__(self) -> None:
        _check_xy(self.x, self.y)

    def _pack(self) -> bytes:
        return _POINTER.pack(self.x, self.y)


@dataclass(frozen=True, slots=True)
class ButtonDown:
    """Event type 2; ``button`` 1 left, 2 middle, 3 right."""

    x: int
    y: int
    button: int
    event_type: ClassVar[int] = 2

    def __post_init__(self) -> None:
        _check_xy(self.x, self.y)
        if self.button not in BUTTONS:
            raise _invalid(f"button {self.button!r}")

    def _pack(self) -> bytes:
        return _BUTTON.pack(self.x, self.y, self.button)


@dataclass(frozen=True, slots=True)
class ButtonUp:
    """Event type 3."""

    x: int
    y: int
    button: int
    event_type: ClassVar[int] = 3

    def __post_init__(self) -> None:
        _check_xy(self.x, self.y)
        if self.button not in BUTTONS:
            raise _invalid(f"button {self.button!r}")

    def _pack(self) -> bytes:
        return _BUTTON.pack(self.x, self.y, self.button)


@dataclass(frozen=True, slots=True)
class Wheel:
    """Event type 4; ``dx``/``dy`` are signed 16-bit."""

    x: int
    y: int
    dx: int
    dy: int
    event_type: ClassVar[int] = 4

    def __post_init__(self) -> None:
        _check_xy(self.x, self.y)
        _check_range("dx", self.dx, -0x8000, 0x7FFF)
        _check_range("dy", self.dy, -0x8000, 0x7FFF)

    def _pack(self) -> bytes:
        return _WHEEL.pack(self.x, self.y, self.dx, self.dy)


@dataclass(frozen=True, slots=True)
class KeyDown:
    """Event type 5: X11 keysym and modifier bits (shift, ctrl, alt, meta)."""

    keysym: int
    modifiers: int
    event_type: ClassVar[int] = 5

    def __post_init__(self) -> None:
        _check_range("keysym", self.keysym, 0, MAX_U32)
        _check_range("modifiers", self.modifiers, 0, MODIFIERS_MASK)

    def _pack(self) -> bytes:
        return _KEY.pack(self.keysym, self.modifiers)


@dataclass(frozen=True, slots=True)
class KeyUp:
    """Event type 6."""

    keysym: int
    modifiers: int
    event_type: ClassVar[int] = 6

    def __post_init__(self) -> None:
        _check_range("keysym", self.keysym, 0, MAX_U32)
        _check_range("modifiers", self.modifiers, 0, MODIFIERS_MASK)

    def _pack(self) -> bytes:
        return _KEY.pack(self.keysym, self.modifiers)


InputEvent = Union[PointerMove, ButtonDown, ButtonUp, Wheel, KeyDown, KeyUp]  # noqa: UP007
"""Any input event."""

EVENT_LAYOUTS: Final[dict[int, tuple[type[InputEvent], struct.Struct]]] = {
    1: (PointerMove, _POINTER),
    2: (ButtonDown, _BUTTON),
    3: (ButtonUp, _BUTTON),
    4: (Wheel, _WHEEL),
    5: (KeyDown, _KEY),
    6: (KeyUp, _KEY),
}
"""Event type byte → (class, layout of the fields after the type byte)."""


@dataclass(frozen=True, slots=True)
class InputBatch:
    """SPEC §4.2 plaintext: up to ``MAX_INPUT_EVENTS`` events."""

    events: tuple[InputEvent, ...]

    def __post_init__(self) -> None:
        if len(self.events) > MAX_INPUT_EVENTS:
            raise _too_large(f"{len(self.events)} events > MAX_INPUT_EVENTS")

    @classmethod
    def parse(cls, data: Buffer) -> "InputBatch":
        """Decode an input batch plaintext; raises :class:`ProtocolError`."""
        size = len(data)
        if size > MAX_BINARY_MESSAGE:
            raise _too_large(f"input batch of {size} bytes")
        view = data if isinstance(data, memoryview) else memoryview(data)
        try:
            (count,) = _EVENT_COUNT.unpack_from(view, 0)
            if count > MAX_INPUT_EVENTS:
                raise _too_large(f"{count} events > MAX_INPUT_EVENTS")
            pos = _EVENT_COUNT.size
            events: list[InputEvent] = []
            for _ in range(count):
                layout = EVENT_LAYOUTS.get(view[pos])
                if layout is None:
                    raise _malformed(f"unknown input event type {view[pos]}")
                event_cls, fields = layout
                events.append(event_cls(*fields.unpack_from(view, pos + 1)))
                pos += 1 + fields.size
        except (struct.error, IndexError) as exc:
            raise _malformed("input batch truncated") from exc
        if pos != size:
            raise _malformed("trailing bytes after input events")
        return cls(tuple(events))

    def __bytes__(self) -> bytes:
        parts = [_EVENT_COUNT.pack(len(self.events))]
        for e in self.events:
            parts.append(bytes((e.event_type,)))
            parts.append(e._pack())
        return b"".join(parts)
