"""Monitors, what is shared of them, and the frame → desktop transform (pure code).

The engineer's viewer sends input in **frame pixels** (the picture it was sent).  The
injector needs **desktop coordinates**: on X11 root-window pixels, on Windows virtual-
screen pixels, on macOS global points (a Retina monitor has 2 frame pixels per point).
:class:`FrameTransform` is that mapping for the view being shared — one monitor or
all of them — with an explicit origin and scale, and it clamps into the shared area
so that input never lands on a monitor the client did not share.
"""

from __future__ import annotations

from dataclasses import dataclass

#: ``Layout.view(ALL)`` shares every monitor (their bounding box).
ALL = 0


class LayoutError(ValueError):
    """A monitor that does not exist, or a malformed monitor choice."""


@dataclass(frozen=True, slots=True)
class Monitor:
    """One monitor: its rectangle in desktop coordinates and its scale (frame pixels
    per desktop unit: 1 on X11 and on per-monitor-DPI-aware Windows, 2 on Retina)."""

    name: str
    x: int
    y: int
    width: int
    height: int
    primary: bool = False
    scale: float = 1.0

    @property
    def pixel_size(self) -> tuple[int, int]:
        """The monitor's size in frame pixels."""
        return round(self.width * self.scale), round(self.height * self.scale)


@dataclass(frozen=True, slots=True)
class FrameTransform:
    """Maps frame pixels to desktop coordinates: ``desktop = origin + frame / scale``,
    clamped into the shared rectangle ``(x, y, width, height)`` (desktop units)."""

    x: int
    y: int
    width: int
    height: int
    scale: float = 1.0

    def to_desktop(self, fx: int, fy: int) -> tuple[int, int]:
        """The desktop point under frame pixel ``(fx, fy)``."""
        dx = self.x + int(fx / self.scale)
        dy = self.y + int(fy / self.scale)
        return (
            min(max(dx, self.x), self.x + self.width - 1),
            min(max(dy, self.y), self.y + self.height - 1),
        )

    def to_frame(self, dx: int, dy: int) -> tuple[int, int] | None:
        """The frame pixel of desktop point ``(dx, dy)``, or None outside the view."""
        if not (self.x <= dx < self.x + self.width and self.y <= dy < self.y + self.height):
            return None
        return int((dx - self.x) * self.scale), int((dy - self.y) * self.scale)

    @property
    def frame_size(self) -> tuple[int, int]:
        """The size of the frames of this view, in pixels."""
        return round(self.width * self.scale), round(self.height * self.scale)


#: The transform of a source without a desktop (patterns, recordings): frame = desktop.
def identity(width: int, height: int) -> FrameTransform:
    """Frame pixels are desktop pixels, origin (0, 0)."""
    return FrameTransform(0, 0, width, height)


@dataclass(frozen=True, slots=True)
class Layout:
    """The monitors of a desktop, primary first (index 1 is the primary)."""

    monitors: tuple[Monitor, ...]

    def __post_init__(self) -> None:
        if not self.monitors:
            raise LayoutError("a desktop has at least one monitor")

    def monitor(self, index: int) -> Monitor:
        """Monitor ``index`` (1-based, as the client and engineer see them)."""
        if not 1 <= index <= len(self.monitors):
            raise LayoutError(f"no monitor {index}: there are {len(self.monitors)}")
        return self.monitors[index - 1]

    def view(self, index: int) -> FrameTransform:
        """The transform of sharing monitor ``index``, or of every monitor (``ALL``).

        All monitors share one scale (the smallest, so no monitor is downsampled below
        its own resolution would need a per-region scale, which X11 never has).
        """
        if index == ALL:
            x0 = min(m.x for m in self.monitors)
            y0 = min(m.y for m in self.monitors)
            x1 = max(m.x + m.width for m in self.monitors)
            y1 = max(m.y + m.height for m in self.monitors)
            scale = min(m.scale for m in self.monitors)
            return FrameTransform(x0, y0, x1 - x0, y1 - y0, scale)
        m = self.monitor(index)
        return FrameTransform(m.x, m.y, m.width, m.height, m.scale)

    def resolve(self, choice: str) -> int:
        """Parse a client's choice: ``all``, ``primary``, a 1-based index or a name."""
        text = choice.strip()
        if text.lower() == "all":
            return ALL
        if text.lower() in ("", "primary"):
            return 1
        if text.isdigit():
            index = int(text)
            self.monitor(index)  # raises for a monitor that does not exist
            return index
        for i, m in enumerate(self.monitors, 1):
            if m.name == text:
                return i
        raise LayoutError(f"no monitor named {text!r}")
