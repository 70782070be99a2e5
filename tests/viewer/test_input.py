"""viewer/js/input.js: real pointer and keyboard events in Chromium become SPEC §4.2
events in remote screen coordinates, only while capture is enabled (G4)."""

from __future__ import annotations

from typing import Any

SETUP = """
async () => {
  const { Display } = await import('/js/display.js');
  const { InputCapture } = await import('/js/input.js');
  const stage = document.createElement('div');
  stage.style.cssText = 'width:400px;height:300px;display:grid;place-items:center';
  const canvas = document.createElement('canvas');
  stage.appendChild(canvas);
  document.body.style.margin = '0';
  document.body.appendChild(stage);
  const display = new Display(canvas, stage);
  display.resize(800, 600);
  const batches = [];
  const input = new InputCapture(canvas, display, (events) => batches.push(events));
  window.T = { display, input, batches, canvas };
}
"""


async def events(page: Any) -> list[dict[str, Any]]:
    await page.evaluate("() => T.input.flush()")
    batches: list[list[dict[str, Any]]] = await page.evaluate("() => T.batches")
    return [e for b in batches for e in b]


async def test_pointer_maps_to_screen_coordinates_when_scaled(module_page: Any) -> None:
    page = module_page
    await page.evaluate(SETUP)
    box = await page.evaluate(
        "() => { const r = T.canvas.getBoundingClientRect(); return [r.left, r.top, r.width, r.height]; }"
    )
    assert box[2:] == [400, 300]  # 800x600 screen scaled by 0.5 to fit
    await page.evaluate("() => T.input.enable()")
    await page.mouse.move(box[0] + 100, box[1] + 50)
    await page.mouse.down()
    await page.mouse.up()
    await page.mouse.click(box[0] + 10, box[1] + 20, button="right")
    got = await events(page)
    assert {"type": "pointer_move", "x": 200, "y": 100} in got
    assert {"type": "button_down", "x": 200, "y": 100, "button": 1} in got
    assert {"type": "button_up", "x": 200, "y": 100, "button": 1} in got
    assert {"type": "button_down", "x": 20, "y": 40, "button": 3} in got


async def test_keys_become_x11_keysyms_with_modifiers(module_page: Any) -> None:
    page = module_page
    await page.evaluate(SETUP)
    await page.evaluate("() => T.input.enable()")
    await page.keyboard.press("a")
    await page.keyboard.press("Enter")
    await page.keyboard.press("Shift+A")
    await page.keyboard.press("Control+c")
    await page.keyboard.press("F5")
    await page.keyboard.press("ArrowLeft")
    got = [(e["type"], e["keysym"], e["modifiers"]) for e in await events(page)]
    assert got == [
        ("key_down", 0x61, 0),
        ("key_up", 0x61, 0),
        ("key_down", 0xFF0D, 0),
        ("key_up", 0xFF0D, 0),
        ("key_down", 0xFFE1, 1),
        ("key_down", 0x41, 1),
        ("key_up", 0x41, 1),
        ("key_up", 0xFFE1, 0),
        ("key_down", 0xFFE3, 2),
        ("key_down", 0x63, 2),
        ("key_up", 0x63, 2),
        ("key_up", 0xFFE3, 0),
        ("key_down", 0xFFC2, 0),
        ("key_up", 0xFFC2, 0),
        ("key_down", 0xFF51, 0),
        ("key_up", 0xFF51, 0),
    ]


async def test_nothing_is_captured_while_disabled(module_page: Any) -> None:
    page = module_page
    await page.evaluate(SETUP)
    box = await page.evaluate(
        "() => { const r = T.canvas.getBoundingClientRect(); return [r.left, r.top]; }"
    )
    await page.mouse.click(box[0] + 30, box[1] + 30)
    await page.keyboard.press("x")
    assert await events(page) == []
    await page.evaluate("() => T.input.enable()")
    await page.keyboard.down("b")
    await page.evaluate("() => T.input.disable()")  # revoked while a key is held: it is released
    await page.keyboard.up("b")
    await page.keyboard.press("y")
    got = [(e["type"], e["keysym"]) for e in await events(page)]
    assert got == [("key_down", 0x62), ("key_up", 0x62)]


async def test_keysym_table(module_page: Any) -> None:
    got = await module_page.evaluate(
        """async () => {
        const { keysymFor } = await import('/js/input.js');
        return [
          keysymFor({ key: 'é', code: 'KeyE' }),
          keysymFor({ key: '€', code: 'KeyE' }),
          keysymFor({ key: 'Escape', code: 'Escape' }),
          keysymFor({ key: 'Control', code: 'ControlRight' }),
          keysymFor({ key: '5', code: 'Numpad5' }),
          keysymFor({ key: 'Dead', code: 'Quote' }),
        ];
      }"""
    )
    assert got == [0xE9, 0x010020AC, 0xFF1B, 0xFFE4, 0xFFB5, 0]
