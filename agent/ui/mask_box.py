"""Masks: window titles and screen rectangles blanked on this machine before
encoding (G6). The box parses what the client typed; the session applies it."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtWidgets import QGroupBox, QHBoxLayout, QLineEdit, QPushButton

from agent.i18n import _

__all__ = ["MaskBox", "Region"]

Region = tuple[int, int, int, int]


class MaskBox(QGroupBox):
    """``apply(regions, windows)`` gets valid masks; ``problem(text)`` a typing mistake."""

    def __init__(
        self,
        apply: Callable[[list[Region], list[str]], None],
        problem: Callable[[str], None],
    ) -> None:
        super().__init__(_("Hide parts of your screen"))
        self.setObjectName("maskBox")
        self._apply = apply
        self._problem = problem
        row = QHBoxLayout(self)
        self.mask_windows = QLineEdit()
        self.mask_windows.setObjectName("maskWindows")
        self.mask_windows.setPlaceholderText(_("Windows to hide, e.g. Bank, Mail"))
        self.mask_windows.setAccessibleName(_("Windows to hide"))
        self.mask_windows.setToolTip(
            _(
                "Any window whose title contains one of these words is blacked out before "
                "your screen leaves this computer. Separate several with commas."
            )
        )
        self.mask_regions = QLineEdit()
        self.mask_regions.setObjectName("maskRegions")
        self.mask_regions.setPlaceholderText(_("Areas to hide (optional): x,y,width,height"))
        self.mask_regions.setAccessibleName(_("Areas to hide"))
        self.mask_regions.setToolTip(
            _(
                "A rectangle in screen pixels from the top-left corner, e.g. 0,0,400,300. "
                "Separate several areas with ';'."
            )
        )
        self.mask_apply = QPushButton(_("Hide"))
        self.mask_apply.setObjectName("maskApply")
        self.mask_apply.setToolTip(_("Apply now: hidden parts are never sent"))
        self.mask_apply.clicked.connect(self._on_apply)
        row.addWidget(self.mask_windows, 2)
        row.addWidget(self.mask_regions, 2)
        row.addWidget(self.mask_apply)

    def _on_apply(self) -> None:
        windows = [t.strip() for t in self.mask_windows.text().split(",") if t.strip()]
        regions: list[Region] = []
        for part in self.mask_regions.text().split(";"):
            if not part.strip():
                continue
            try:
                x, y, w, h = (int(n) for n in part.split(","))
            except ValueError:
                self._problem(
                    _(
                        "“{area}” is not an area: use four numbers, x,y,width,height",
                        area=part.strip(),
                    )
                )
                return
            regions.append((x, y, w, h))
        self._apply(regions, windows)
