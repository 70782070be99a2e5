"""The agent on real desktops: monitor layouts and the frame → desktop transform, key
tables per platform, the capabilities check and the OS permission step.

Pure code (no X11, no OS calls): the X11 backends live in ``agent.capture`` and
``agent.inject`` on ``agent.x11``; the plans for Windows, macOS and Wayland are in
docs/platforms.md.
"""

from __future__ import annotations

from agent.desktop.layout import ALL, FrameTransform, Layout, LayoutError, Monitor, identity

__all__ = ["ALL", "FrameTransform", "Layout", "LayoutError", "Monitor", "identity"]
