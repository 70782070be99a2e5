"""A deterministic test-pattern source for tests and benchmarks (DESIGN §6).

The picture, top to bottom: eight colour bars; a *motion band* with a frame counter
(16 blocks, bit ``i`` of the frame index, most significant first) and a 64×64 box that
moves 8 px per frame; a *document* of pseudo-text lines that can scroll; an *input
line* at the bottom that shows typed text.  Every pixel is a pure function of the frame
index and the scene state (typed text, scroll offset, page), so tests can predict it
with :meth:`PatternSource.render`.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

from agent.capture.base import CaptureError, CaptureSource, Frame

# BGRA colours.
BAR_COLOURS: tuple[tuple[int, int, int, int], ...] = (
    (255, 255, 255, 255),  # white
    (0, 255, 255, 255),  # yellow
    (255, 255, 0, 255),  # cyan
    (0, 255, 0, 255),  # green
    (255, 0, 255, 255),  # magenta
    (0, 0, 255, 255),  # red
    (255, 0, 0, 255),  # blue
    (0, 0, 0, 255),  # black
)
BACKGROUND = (64, 64, 64, 255)
PAPER = (245, 245, 245, 255)
INPUT_PAPER = (255, 255, 255, 255)
INK = (30, 30, 30, 255)
BOX = (0, 128, 255, 255)  # orange
COUNTER_ON = (255, 255, 255, 255)
COUNTER_OFF = (0, 0, 0, 255)

GLYPH_W, GLYPH_H = 10, 20  # one character cell
LINE_H = GLYPH_H
COUNTER_BITS = 16
COUNTER_BLOCK = 12
BOX_SIZE = 64
BOX_STEP = 8
MIN_SIZE = 64


def _glyph_atlas() -> npt.NDArray[np.bool_]:
    """128 deterministic 'glyphs' (cells of GLYPH_H × GLYPH_W); code 32 is blank.

    Each glyph is 2–4 one-pixel strokes (bars, bowls, a diagonal) in a 7×12 box, so
    text compresses like real anti-alias-free text rather than like noise.
    """
    box = np.zeros((9, 12, 7), dtype=bool)
    box[0, :, 0] = True  # left stem
    box[1, :, 6] = True  # right stem
    box[2, 0, :] = True  # top bar
    box[3, 6, :] = True  # middle bar
    box[4, 11, :] = True  # bottom bar
    box[5, 6:, 0] = box[5, 6:, 6] = box[5, 6, :] = box[5, 11, :] = True  # bowl
    box[6, np.arange(12), np.arange(12) * 7 // 12] = True  # diagonal
    box[7, :, 3] = True  # centre stem
    box[8, 2:5, 3] = True  # dot
    rng = np.random.default_rng(1234)
    atlas = np.zeros((128, GLYPH_H, GLYPH_W), dtype=bool)
    for code in range(128):
        strokes = rng.choice(len(box), size=int(rng.integers(2, 5)), replace=False)
        atlas[code, 4:16, 1:8] = box[strokes].any(axis=0)
    atlas[32] = False
    return atlas


class PatternSource(CaptureSource):
    """Deterministic synthetic screen; ``motion=False`` keeps box and counter still.

    ``grab()`` returns ``render(i)`` for i = 0, 1, 2, … and advances the index.
    ``type_text``, ``backspace``, ``scroll`` and ``set_page`` change the scene the way
    an office user would (for the P3/P4 benchmarks).
    """

    def __init__(self, width: int = 1920, height: int = 1080, *, motion: bool = True) -> None:
        if not (MIN_SIZE <= width <= 8192 and MIN_SIZE <= height <= 8192):
            raise CaptureError(f"pattern size {width}x{height} outside {MIN_SIZE}..8192")
        self._w, self._h = width, height
        self.motion = motion
        self.index = 0
        self._typed: list[int] = []
        self._scroll = 0
        self._page = 0
        self._atlas = _glyph_atlas()
        # Layout.
        self.bar_h = max(8, height // 8)
        self.band_y = self.bar_h
        self.band_h = min(BOX_SIZE + 16, max(0, height - self.bar_h) // 3)
        self.input_h = min(LINE_H + 12, max(0, height - self.bar_h - self.band_h) // 3)
        self.doc_y = self.band_y + self.band_h
        self.doc_h = height - self.doc_y - self.input_h
        self.input_y = self.doc_y + self.doc_h
        self.input_cols = max(1, (width - 16) // GLYPH_W)
        self._base = self._render_base()
        self._doc = self._render_document(self._page)

    @property
    def size(self) -> tuple[int, int]:
        return self._w, self._h

    # --- scene changes ---------------------------------------------------------------

    def type_text(self, text: str) -> None:
        """Append characters to the input line (it wraps to empty when full)."""
        for ch in text:
            if len(self._typed) >= self.input_cols:
                self._typed.clear()
            self._typed.append(ord(ch) & 0x7F)

    def backspace(self, count: int = 1) -> None:
        """Delete characters from the end of the input line."""
        del self._typed[max(0, len(self._typed) - count) :]

    def scroll(self, lines: int = 1) -> None:
        """Scroll the document by whole text lines (positive = down)."""
        self._scroll = (self._scroll + lines * LINE_H) % self._doc.shape[0]

    def set_page(self, page: int) -> None:
        """Show another document (a 'window switch'): every document pixel changes."""
        if page != self._page:
            self._page = page
            self._scroll = 0
            self._doc = self._render_document(page)

    # --- rendering -------------------------------------------------------------------

    def grab(self) -> Frame:
        frame = self.render(self.index)
        self.index += 1
        return frame

    def render(self, index: int) -> Frame:
        """The frame number ``index`` for the current scene (pure: no state changes)."""
        out = self._base.copy()
        if self.doc_h > 0:
            rows = (np.arange(self.doc_h) + self._scroll) % self._doc.shape[0]
            out[self.doc_y : self.doc_y + self.doc_h] = self._doc[rows]
        self._draw_input(out)
        if self.motion:
            self._draw_motion(out, index)
        return out

    def box_position(self, index: int) -> tuple[int, int]:
        """Top-left corner of the moving box in frame ``index``."""
        span = max(1, self._w - BOX_SIZE)
        return (index * BOX_STEP) % span, self.band_y + 8

    def _render_base(self) -> Frame:
        w, h = self._w, self._h
        img = np.empty((h, w, 4), dtype=np.uint8)
        img[:] = BACKGROUND
        bar_cols = (np.arange(w) * len(BAR_COLOURS)) // w
        img[: self.bar_h] = np.asarray(BAR_COLOURS, dtype=np.uint8)[bar_cols][None, :, :]
        if self.input_h > 0:
            img[self.input_y + 2 : self.input_y + self.input_h - 2, 4 : w - 4] = INPUT_PAPER
        return img

    def _render_document(self, page: int) -> Frame:
        """A virtual document twice the visible height, so scrolling wraps smoothly."""
        w = self._w
        lines = max(1, 2 * max(self.doc_h, LINE_H) // LINE_H)
        cols = max(1, (w - 16) // GLYPH_W)
        rng = np.random.default_rng(page)
        codes = rng.integers(33, 127, size=(lines, cols))
        # Word gaps and ragged line ends, like prose.
        codes[rng.random((lines, cols)) < 0.17] = 32
        ends = rng.integers(cols // 3, cols + 1, size=lines)
        codes[np.arange(cols)[None, :] >= ends[:, None]] = 32
        ink = self._atlas[codes]  # (lines, cols, GH, GW)
        ink = ink.transpose(0, 2, 1, 3).reshape(lines * GLYPH_H, cols * GLYPH_W)
        doc = np.empty((lines * LINE_H, w, 4), dtype=np.uint8)
        doc[:] = PAPER
        sub = doc[:, 8 : 8 + cols * GLYPH_W]
        sub[ink] = INK
        return doc

    def _draw_input(self, out: Frame) -> None:
        if not self._typed or self.input_h < GLYPH_H:
            return
        n = len(self._typed)
        ink = self._atlas[np.asarray(self._typed)]  # (n, GH, GW)
        ink = ink.transpose(1, 0, 2).reshape(GLYPH_H, n * GLYPH_W)
        y = self.input_y + (self.input_h - GLYPH_H) // 2
        region = out[y : y + GLYPH_H, 8 : 8 + n * GLYPH_W]
        region[ink] = INK

    def _draw_motion(self, out: Frame, index: int) -> None:
        if self.band_h < COUNTER_BLOCK:
            return
        y = self.band_y + 2
        for bit in range(COUNTER_BITS):
            x = 4 + bit * (COUNTER_BLOCK + 2)
            if x + COUNTER_BLOCK > self._w:
                break
            on = (index >> (COUNTER_BITS - 1 - bit)) & 1
            out[y : y + COUNTER_BLOCK, x : x + COUNTER_BLOCK] = COUNTER_ON if on else COUNTER_OFF
        bx, by = self.box_position(index)
        out[by : min(by + BOX_SIZE, self.band_y + self.band_h), bx : bx + BOX_SIZE] = BOX
